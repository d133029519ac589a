//! Which audit events are privileged operations: the changes a security team reviews
//! (deletions, access policies, identities and keys, authentication, retention).
//!
//! | service type | event type | description mentions | operation |
//! |---|---|---|---|
//! | Bucket | Deleted | | `bucket_delete` |
//! | Bucket | Updated | policy | `bucket_policy_change` |
//! | Bucket | Updated | ACL | `bucket_acl_change` |
//! | Bucket | Updated | retention, lock | `bucket_retention_change` |
//! | Namespace | Created, Updated, Deleted | | `namespace_create`, `namespace_change`, `namespace_delete` |
//! | Policy | any | | `iam_policy_change` |
//! | ObjectUser, User | Created, Deleted | | `user_create`, `user_delete` |
//! | SecretKey, AccessKey | Created, Deleted | | `key_create`, `key_delete` |
//! | ManagementUser | any | | `management_user_change` |
//! | AuthProvider, AuthnProvider | any | | `auth_provider_change` |
//!
//! Names are compared without case, spaces, `_` or `-` (`Object User` = `ObjectUser`).

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The privileged operation an event is, if any.
pub fn operation(service_type: &str, event_type: &str, description: &str) -> Option<&'static str> {
    let st = norm(service_type);
    let et = norm(event_type);
    let d = description.to_ascii_lowercase();
    let op = match (st.as_str(), et.as_str()) {
        ("bucket", "deleted") => "bucket_delete",
        ("bucket", "updated") if d.contains("policy") => "bucket_policy_change",
        ("bucket", "updated") if d.contains("acl") => "bucket_acl_change",
        ("bucket", "updated") if d.contains("retention") || d.contains("lock") => {
            "bucket_retention_change"
        }
        ("namespace", "created") => "namespace_create",
        ("namespace", "updated") => "namespace_change",
        ("namespace", "deleted") => "namespace_delete",
        ("policy", _) => "iam_policy_change",
        ("objectuser" | "user", "created") => "user_create",
        ("objectuser" | "user", "deleted") => "user_delete",
        ("secretkey" | "accesskey", "created") => "key_create",
        ("secretkey" | "accesskey", "deleted") => "key_delete",
        ("managementuser", _) => "management_user_change",
        ("authprovider" | "authnprovider" | "authenticationprovider", _) => "auth_provider_change",
        _ => return None,
    };
    Some(op)
}

#[cfg(test)]
mod tests {
    use super::operation;

    #[test]
    fn deletions_policies_identities_and_keys_are_privileged() {
        assert_eq!(operation("Bucket", "Deleted", ""), Some("bucket_delete"));
        assert_eq!(
            operation("Bucket", "Updated", "Bucket policy updated"),
            Some("bucket_policy_change")
        );
        assert_eq!(
            operation("Bucket", "Updated", "Bucket retention updated"),
            Some("bucket_retention_change")
        );
        assert_eq!(operation("Bucket", "Created", "Bucket Created"), None);
        assert_eq!(operation("Object User", "created", ""), Some("user_create"));
        assert_eq!(operation("SecretKey", "Deleted", ""), Some("key_delete"));
        assert_eq!(
            operation("Policy", "Updated", ""),
            Some("iam_policy_change")
        );
        assert_eq!(operation("Storage Pool", "Updated", ""), None);
    }
}

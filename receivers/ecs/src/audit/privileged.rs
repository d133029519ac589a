//! Which audit events are privileged operations: the changes a security team reviews
//! (deletions, access policies, identities and keys, authentication, retention). They are
//! named like the S3 and IAM actions that make them (`DeleteBucket`, `PutBucketPolicy`,
//! `CreateAccessKey`), as the dashboards and alerts users bring expect.
//!
//! | service type | event type | description mentions | operation |
//! |---|---|---|---|
//! | Bucket | Deleted | | `DeleteBucket` |
//! | Bucket | Updated | policy | `PutBucketPolicy` |
//! | Bucket | Updated | ACL | `PutBucketAcl` |
//! | Bucket | Updated | retention, lock | `PutBucketRetention` |
//! | Namespace | Created, Updated, Deleted | | `CreateNamespace`, `UpdateNamespace`, `DeleteNamespace` |
//! | Policy | Created, Updated, Deleted | | `CreatePolicy`, `UpdatePolicy`, `DeletePolicy` |
//! | ObjectUser, User | Created, Deleted | | `CreateUser`, `DeleteUser` |
//! | SecretKey, AccessKey | Created, Deleted | | `CreateAccessKey`, `DeleteAccessKey` |
//! | ManagementUser | Created, Updated, Deleted | | `CreateManagementUser`, ... |
//! | AuthProvider, AuthnProvider | Created, Updated, Deleted | | `CreateAuthProvider`, ... |
//!
//! Names are compared without case, spaces, `_` or `-` (`Object User` = `ObjectUser`).

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `Create`, `Update` or `Delete` for ECS's event types.
fn verb(event_type: &str) -> Option<usize> {
    match event_type {
        "created" => Some(0),
        "updated" => Some(1),
        "deleted" => Some(2),
        _ => None,
    }
}

/// The privileged operation an event is, if any.
pub fn operation(service_type: &str, event_type: &str, description: &str) -> Option<&'static str> {
    let st = norm(service_type);
    let et = norm(event_type);
    let d = description.to_ascii_lowercase();
    let by_verb = |names: [&'static str; 3]| verb(&et).map(|i| names[i]);
    match st.as_str() {
        "bucket" => match et.as_str() {
            "deleted" => Some("DeleteBucket"),
            "updated" if d.contains("policy") => Some("PutBucketPolicy"),
            "updated" if d.contains("acl") => Some("PutBucketAcl"),
            "updated" if d.contains("retention") || d.contains("lock") => {
                Some("PutBucketRetention")
            }
            _ => None,
        },
        "namespace" => by_verb(["CreateNamespace", "UpdateNamespace", "DeleteNamespace"]),
        "policy" => by_verb(["CreatePolicy", "UpdatePolicy", "DeletePolicy"]),
        "objectuser" | "user" => match et.as_str() {
            "created" => Some("CreateUser"),
            "deleted" => Some("DeleteUser"),
            _ => None,
        },
        "secretkey" | "accesskey" => match et.as_str() {
            "created" => Some("CreateAccessKey"),
            "deleted" => Some("DeleteAccessKey"),
            _ => None,
        },
        "managementuser" => by_verb([
            "CreateManagementUser",
            "UpdateManagementUser",
            "DeleteManagementUser",
        ]),
        "authprovider" | "authnprovider" | "authenticationprovider" => by_verb([
            "CreateAuthProvider",
            "UpdateAuthProvider",
            "DeleteAuthProvider",
        ]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::operation;

    #[test]
    fn deletions_policies_identities_and_keys_are_privileged() {
        assert_eq!(operation("Bucket", "Deleted", ""), Some("DeleteBucket"));
        assert_eq!(
            operation("Bucket", "Updated", "Bucket policy updated"),
            Some("PutBucketPolicy")
        );
        assert_eq!(
            operation("Bucket", "Updated", "Bucket retention updated"),
            Some("PutBucketRetention")
        );
        assert_eq!(operation("Bucket", "Created", "Bucket Created"), None);
        assert_eq!(operation("Object User", "created", ""), Some("CreateUser"));
        assert_eq!(
            operation("SecretKey", "Deleted", ""),
            Some("DeleteAccessKey")
        );
        assert_eq!(operation("Policy", "Updated", ""), Some("UpdatePolicy"));
        assert_eq!(
            operation("authn_provider", "Deleted", ""),
            Some("DeleteAuthProvider")
        );
        assert_eq!(operation("Storage Pool", "Updated", ""), None);
    }
}

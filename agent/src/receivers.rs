//! The receiver kinds this agent is built with: the only place that names them. A new kind
//! is a folder under receivers/ and one line here.

use pipeline::registry::Registry;

pub fn registry() -> Registry {
    Registry::new()
        .with(receiver_ecs::factory())
        .with(receiver_self::factory())
        .with(receiver_generic::factory())
}

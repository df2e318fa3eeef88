//! Who may do what, and the record of it: API keys with scopes kept as hashes (`keys`),
//! per-key rate limits and the lock-out of addresses guessing keys (`limits`), and the
//! audit trail of requests touching customer data (`audit`), and which address a request
//! comes from behind trusted proxies (`proxy`). The HTTP side is
//! `serve::access`; `custscore keys create` writes the keys file.

pub mod audit;
pub mod keys;
pub mod limits;
pub mod proxy;

pub use keys::{Key, KeyRing, KeysError, Scope, Scopes};

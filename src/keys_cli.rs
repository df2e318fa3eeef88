//! `custscore keys`: create a key (printed once; the keys file keeps its hash), list the
//! keys of a file (ids, scopes, creation times) and revoke one.

use crate::access::keys::{create_key, list_keys, revoke_key, KeysError};
use crate::cli::KeysAction;

pub fn run_keys(action: KeysAction) -> Result<(), KeysError> {
    match action {
        KeysAction::Create {
            id,
            scopes,
            keys_file,
        } => {
            let secret = create_key(&keys_file, &id, &scopes)?;
            println!("{secret}");
            eprintln!(
                "key `{id}` ({scopes}) added to {}; it is shown only this once, the file keeps its sha256",
                keys_file.display()
            );
        }
        KeysAction::List { keys_file } => {
            println!("{:<24} {:<32} {:<22} line", "id", "scopes", "created");
            for entry in list_keys(&keys_file)? {
                let created = entry.created.as_deref().unwrap_or("-");
                let scopes = entry.key.scopes.to_string();
                println!(
                    "{:<24} {scopes:<32} {created:<22} {}",
                    entry.key.id, entry.line
                );
            }
        }
        KeysAction::Revoke { id, keys_file } => {
            let revoked = revoke_key(&keys_file, &id)?;
            eprintln!(
                "key `{id}` ({}) removed from {} (was line {}); a running server refuses it after \
                 SIGHUP or POST /v1/admin/keys/reload",
                revoked.key.scopes,
                keys_file.display(),
                revoked.line
            );
        }
    }
    Ok(())
}

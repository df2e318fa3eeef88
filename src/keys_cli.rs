//! `custscore keys create`: a new API key, printed once; the keys file keeps its hash.

use crate::access::keys::{create_key, KeysError};
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
    }
    Ok(())
}

//! One switch of `CURRENT` at a time across processes: `train --promote`, `models
//! promote|rollback|gc` and the service's admin routes take an advisory exclusive lock
//! on `models/.switch.lock` from reading `CURRENT` to appending the history line, so two
//! switchers never both decide from the same `CURRENT`. A second switcher waits, up to a
//! bound, and then fails with a message naming the lock file.

use super::error::{io_error, LifecycleError};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

pub const LOCK_FILE: &str = ".switch.lock";

/// How long a switcher waits for another one to finish (a switch verifies a bundle,
/// which takes well under a second for the bundles this project writes).
pub const LOCK_WAIT: Duration = Duration::from_secs(60);

/// The held lock; released when dropped (and by the OS if the process dies).
#[derive(Debug)]
pub struct SwitchLock {
    _file: File,
}

impl SwitchLock {
    /// Take the lock of `models`, waiting at most `wait`.
    pub fn acquire(models: &Path, wait: Duration) -> Result<Self, LifecycleError> {
        let path = models.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(SwitchLock { _file: file }),
                Err(TryLockError::Error(e)) => return Err(io_error(&path)(e)),
                Err(TryLockError::WouldBlock) if started.elapsed() >= wait => {
                    return Err(LifecycleError::Locked {
                        path,
                        waited: started.elapsed(),
                    })
                }
                Err(TryLockError::WouldBlock) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_switcher_waits_then_fails_naming_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let held = SwitchLock::acquire(dir.path(), LOCK_WAIT).unwrap();
        let started = Instant::now();
        let err = SwitchLock::acquire(dir.path(), Duration::from_millis(150)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(150));
        let message = err.to_string();
        assert!(message.contains(LOCK_FILE), "{message}");
        assert!(message.contains("another process"), "{message}");
        drop(held);
        SwitchLock::acquire(dir.path(), Duration::from_millis(150)).unwrap();
    }

    #[test]
    fn the_lock_passes_from_one_holder_to_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let held = SwitchLock::acquire(dir.path(), LOCK_WAIT).unwrap();
        let path = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || SwitchLock::acquire(&path, LOCK_WAIT).is_ok());
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !waiter.is_finished(),
            "the waiter got the lock while it was held"
        );
        drop(held);
        assert!(waiter.join().unwrap());
    }
}

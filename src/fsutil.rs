//! Writing files so that readers see either the old or the new content, never a half-written one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `content` to a temporary file beside `path`, syncs it, and renames it over `path`;
/// the folder is created when missing. The file's mode is kept when it exists.
pub fn write_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    write_replacing(path, content, None)
}

/// As [`write_atomically`], for a file only its owner may read (a secrets file): the content is
/// never in a file with a wider mode, not even for a moment.
pub fn write_private_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    write_replacing(path, content, Some(0o600))
}

fn write_replacing(path: &Path, content: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    // A name no other writer uses, in this process or another: two deploys at once must not
    // write through each other's temporary file.
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{:016x}",
        file_name.unwrap_or_default(),
        std::process::id(),
        rand::random::<u64>()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode.unwrap_or(0o666))
        .open(&tmp)?;
    let written = write_and_rename(&mut file, &tmp, path, content, mode.is_none());
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn write_and_rename(
    file: &mut std::fs::File,
    tmp: &Path,
    path: &Path,
    content: &[u8],
    keep_mode: bool,
) -> std::io::Result<()> {
    if keep_mode && let Ok(meta) = std::fs::metadata(path) {
        file.set_permissions(meta.permissions())?;
    }
    file.write_all(content)?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}

/// Creates a folder (and its parents) readable by its owner only, as OpenSSH wants `~/.ssh`.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

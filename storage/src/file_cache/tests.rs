//! Internal tests of the descriptor cache: the bound, the clock, and descriptors outliving eviction.

use std::os::unix::fs::FileExt;

use super::*;

fn files(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("f{i}"));
            std::fs::write(&p, format!("file {i}")).unwrap();
            p
        })
        .collect()
}

fn read(file: &File) -> String {
    let mut buf = vec![0u8; 16];
    let n = file.read_at(&mut buf, 0).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn the_cache_holds_at_most_its_capacity_and_evicts_unreferenced_entries_first() {
    let dir = tempfile::tempdir().unwrap();
    let cache = FileCache::new(3);
    let handles: Vec<_> = files(dir.path(), 5)
        .into_iter()
        .map(|p| CachedFile::new(&cache, p))
        .collect();
    for h in &handles[..3] {
        h.get().unwrap();
    }
    assert_eq!(cache.len(), 3);
    // Touch 0 and 2: the clock then evicts 1 for the fourth file.
    handles[0].get().unwrap();
    handles[2].get().unwrap();
    handles[3].get().unwrap();
    assert_eq!(cache.len(), 3);
    let key = |h: &CachedFile| cache.lock().map.contains_key(&h.key);
    assert!(key(&handles[0]) && !key(&handles[1]) && key(&handles[2]) && key(&handles[3]));
    // Every file still reads right, whatever was evicted in between.
    for round in 0..3 {
        for (i, h) in handles.iter().enumerate() {
            assert_eq!(read(&h.get().unwrap()), format!("file {i}"), "round {round}");
            assert!(cache.len() <= 3);
        }
    }
}

#[test]
fn an_evicted_descriptor_stays_usable_while_held() {
    let dir = tempfile::tempdir().unwrap();
    let cache = FileCache::new(1);
    let paths = files(dir.path(), 2);
    let a = CachedFile::new(&cache, paths[0].clone());
    let b = CachedFile::new(&cache, paths[1].clone());
    let held = a.get().unwrap();
    b.get().unwrap(); // evicts a
    assert!(!cache.lock().map.contains_key(&a.key));
    std::fs::remove_file(&paths[0]).unwrap();
    assert_eq!(
        read(&held),
        "file 0",
        "a held descriptor outlives eviction and deletion"
    );
}

#[test]
fn dropping_a_handle_removes_its_entry_and_a_zero_capacity_caches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 2);
    let cache = FileCache::new(4);
    let a = CachedFile::new(&cache, paths[0].clone());
    a.get().unwrap();
    assert_eq!(cache.len(), 1);
    drop(a);
    assert_eq!(cache.len(), 0);
    // A new handle on the same path is a new key: nothing stale is served.
    let b = CachedFile::new(&cache, paths[0].clone());
    b.keep(Arc::new(File::open(&paths[1]).unwrap()));
    let c = CachedFile::new(&cache, paths[0].clone());
    assert_eq!(read(&c.get().unwrap()), "file 0");

    let none = FileCache::new(0);
    let d = CachedFile::new(&none, paths[1].clone());
    assert_eq!(read(&d.get().unwrap()), "file 1");
    assert_eq!(none.len(), 0);
}

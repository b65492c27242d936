//! Helpers shared by the training crate's integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // shared by several test crates

use burn::module::Module;

/// Every float parameter of `module`, in visiting order.
pub fn flat_weights<M: Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            let data = param.val().into_data().convert::<f32>();
            self.0.extend_from_slice(data.as_slice::<f32>().unwrap());
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

/// The files of a checkpoint directory, by name, with their bytes.
fn checkpoint_files(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// The newest checkpoints of two runs hold the same files with the same bytes (what
/// `sha256sum` compares), checksum lists included.
pub fn assert_same_checkpoint_bytes(a: &neuroforge_train::RunDir, b: &neuroforge_train::RunDir) {
    let (ia, da) = a.latest_checkpoint().unwrap();
    let (ib, db) = b.latest_checkpoint().unwrap();
    assert_eq!(ia, ib);
    let (fa, fb) = (checkpoint_files(&da), checkpoint_files(&db));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    assert!(fa.contains_key("checksums.sha256"), "{:?}", fa.keys());
    let differ: Vec<&String> = fa.keys().filter(|name| fa[*name] != fb[*name]).collect();
    assert!(
        differ.is_empty(),
        "{differ:?} differ between {da:?} and {db:?}"
    );
}

/// Damage each file of the newest checkpoint of `run` in turn (a flipped byte, then
/// truncation, then deletion) and check that the newest checkpoint chosen is the one before,
/// with `load` (the trainer's loader) still succeeding; each file is restored after.
pub fn assert_each_damaged_file_falls_back(
    run: &neuroforge_train::RunDir,
    load: impl Fn(&neuroforge_train::RunDir),
) {
    let all = run.checkpoints().unwrap();
    assert!(all.len() >= 2, "{all:?}");
    let (newest, dir) = all[all.len() - 1].clone();
    let previous = all[all.len() - 2].0;
    assert_eq!(run.latest_checkpoint().unwrap().0, newest);
    assert!(run.verify().unwrap().is_sound());
    for (name, bytes) in checkpoint_files(&dir) {
        let path = dir.join(&name);
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x5a;
        let truncated = bytes[..bytes.len() / 2].to_vec();
        for damaged in [Some(flipped), Some(truncated), None] {
            match &damaged {
                Some(damaged) => std::fs::write(&path, damaged).unwrap(),
                None => std::fs::remove_file(&path).unwrap(),
            }
            assert_eq!(
                run.latest_checkpoint().unwrap().0,
                previous,
                "{name} damaged ({} bytes)",
                damaged.as_ref().map_or(0, Vec::len)
            );
            load(run);
            let check = run.verify().unwrap();
            assert!(!check.is_sound());
            assert_eq!(check.latest_usable, Some(previous));
            std::fs::write(&path, &bytes).unwrap();
        }
        assert_eq!(
            run.latest_checkpoint().unwrap().0,
            newest,
            "{name} restored"
        );
    }
}

//! The built-in catalog loads, and an operator's folder adds to it and replaces by id.

use super::*;

#[test]
fn the_builtin_catalog_loads_and_every_module_flow_compiles() {
    let catalog = Catalog::builtin().unwrap_or_else(|e| panic!("{e}"));
    assert!(catalog.modules().count() >= 1);
    assert!(catalog.packs().count() >= 1);
    for entry in catalog.modules() {
        let copy = entry.module.templates.clone();
        let setting = definition::Setting {
            copy: Some(&copy),
            ..definition::Setting::default()
        };
        let compiled = definition::compile_flow("flow.yaml", &entry.flow_source, setting);
        let (flow, _) = compiled.unwrap_or_else(|d| panic!("{}: {d:?}", entry.module.id));
        assert_eq!(flow.id(), entry.module.id);
    }
}

#[test]
fn an_operator_folder_adds_and_replaces_by_id() {
    let dir = std::env::temp_dir().join(format!("stepwise-catalog-{}", std::process::id()));
    let module_dir = dir.join("modules/speed-to-lead");
    std::fs::create_dir_all(&module_dir).unwrap_or_else(|e| panic!("{e}"));
    let newer = MODULES[0].1.replace("version: 1.0.0", "version: 1.1.0");
    std::fs::write(module_dir.join("module.yaml"), newer).unwrap_or_else(|e| panic!("{e}"));
    let catalog = Catalog::load(Some(&dir)).unwrap_or_else(|e| panic!("{e}"));
    let module = catalog
        .module("speed-to-lead")
        .map(|m| m.module.version.as_str());
    assert_eq!(module, Some("1.1.0"));

    std::fs::create_dir_all(dir.join("packs")).unwrap_or_else(|e| panic!("{e}"));
    let broken = "id: broken\nname: Broken\nmodules:\n  - module: no-such-module\n";
    std::fs::write(dir.join("packs/broken.yaml"), broken).unwrap_or_else(|e| panic!("{e}"));
    let refused = Catalog::load(Some(&dir)).map(|_| ()).unwrap_err();
    assert!(
        refused.to_string().contains("no module `no-such-module`"),
        "{refused}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pack_whose_copy_does_not_fit_its_module_is_refused() {
    let dir = std::env::temp_dir().join(format!("stepwise-catalog-pack-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("packs")).unwrap_or_else(|e| panic!("{e}"));
    let pack = "id: typo\nname: Typo\nmodules:\n  - module: speed-to-lead\n    templates: {frist_reply: hi}\n";
    std::fs::write(dir.join("packs/typo.yaml"), pack).unwrap_or_else(|e| panic!("{e}"));
    let refused = Catalog::load(Some(&dir)).map(|_| ()).unwrap_err();
    assert!(
        refused.to_string().contains("no template `frist_reply`"),
        "{refused}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

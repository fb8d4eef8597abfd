//! Configuration parsing on arbitrary text: a clear error or a valid configuration, never a
//! panic; sizes parse or fail cleanly; editing a value keeps the file parseable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustassistant::config::{Config, ConfigFile, Env, Overrides};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = rustassistant::util::parse_size(text);
    if let Ok(file) = ConfigFile::parse(text, std::path::Path::new("config.toml")) {
        // The trust boundary never panics, and what it keeps is still a valid configuration
        // whenever the whole file was.
        let (kept, _) = rustassistant::config::trust::restrict(file.clone(), true);
        if Config::from_file(file.clone(), &Env::default(), &Overrides::default()).is_ok() {
            assert!(Config::from_file(kept, &Env::default(), &Overrides::default()).is_ok());
        }
        if let Ok(cfg) = Config::from_file(file, &Env::default(), &Overrides::default()) {
            let _ = cfg.default_types();
            let _ = rustassistant::run::Filter::new(&cfg);
            let _ = rustassistant::budget::Settings::from_config(&cfg);
        }
    }
});

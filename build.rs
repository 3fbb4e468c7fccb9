// Edited migrations and form definitions must rebuild the binary that embeds them.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    // The shipped form definitions are compiled in (forms::definition::BUILTIN).
    println!("cargo:rerun-if-changed=config/forms");
    println!("cargo:rerun-if-changed=config/catalog");
    println!("cargo:rerun-if-changed=config/duties");
    println!("cargo:rerun-if-changed=config/checks.toml");
    println!("cargo:rerun-if-changed=config/documents.toml");
    println!("cargo:rerun-if-changed=config/units.example.toml");
}

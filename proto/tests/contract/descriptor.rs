//! The whole wire contract of `tfplugin5.proto`, compared entry by entry with a checked-in table.
//!
//! `tests/contract/tfplugin5.wire.txt` lists every message field (number, label, type, oneof),
//! every reserved number, every enum value and every RPC (request, response, streaming) of the
//! published protocol, in a stable order and without comments. It was rendered from
//! `docs/plugin-protocol/tfplugin5.proto` of the public Terraform repository (the v1.15 releases;
//! byte-identical on its main branch), not from our own file, so a field renumbered, retyped or
//! renamed here, or an RPC missing, shows up as a one-line diff.
//!
//! To re-render the table from a newer Terraform file:
//! `TFPLUGIN5_REFERENCE=/path/to/tfplugin5.proto cargo test -p galley-proto --test contract wire_table`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use galley_proto::prost_types::{
    DescriptorProto, EnumDescriptorProto, FileDescriptorProto, field_descriptor_proto::Label,
    field_descriptor_proto::Type,
};

const TABLE: &str = "tests/contract/tfplugin5.wire.txt";

/// The table's first line: where it came from. Lines starting with `#` are not compared.
const SOURCE: &str = "# Rendered from docs/plugin-protocol/tfplugin5.proto of hashicorp/terraform \
                      (identical in v1.15.0 to v1.15.9 and on main; last changed by commit \
                      a2e232856b). Regenerate as tests/contract/descriptor.rs says.";

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `tfplugin5` file descriptor of `path`, compiled the way `build.rs` compiles ours.
fn compile(path: &Path) -> FileDescriptorProto {
    let dir = path.parent().expect("a file in a directory");
    let name = path.file_name().expect("a file name");
    let set = protox::compile([name], [dir]).expect("the .proto file compiles");
    set.file
        .into_iter()
        .find(|f| f.package() == "tfplugin5")
        .expect("package tfplugin5")
}

fn scalar(t: Type) -> &'static str {
    match t {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
        Type::Group | Type::Message | Type::Enum => "",
    }
}

fn render_enum(out: &mut String, prefix: &str, e: &EnumDescriptorProto) {
    let _ = writeln!(out, "enum {prefix}.{}", e.name());
    let mut values: Vec<_> = e.value.iter().map(|v| (v.number(), v.name())).collect();
    values.sort();
    for (number, name) in values {
        let _ = writeln!(out, "  {name} = {number}");
    }
}

fn render_message(out: &mut String, prefix: &str, m: &DescriptorProto) {
    let full = format!("{prefix}.{}", m.name());
    let _ = writeln!(out, "message {full}");
    let mut fields: Vec<_> = m.field.iter().collect();
    fields.sort_by_key(|f| f.number());
    for f in fields {
        let label = match f.label() {
            Label::Repeated => "repeated ",
            _ if f.proto3_optional() => "optional ",
            _ => "",
        };
        let ty = match f.r#type() {
            Type::Message | Type::Enum | Type::Group => f.type_name().to_string(),
            t => scalar(t).to_string(),
        };
        // A synthetic oneof (proto3 `optional`) is presence, already shown as the label.
        let oneof = f
            .oneof_index
            .filter(|_| !f.proto3_optional())
            .map(|i| format!(" (oneof {})", m.oneof_decl[i as usize].name()))
            .unwrap_or_default();
        let _ = writeln!(out, "  {label}{ty} {} = {}{oneof}", f.name(), f.number());
    }
    for r in &m.reserved_range {
        // Descriptor ranges are end-exclusive.
        let _ = writeln!(out, "  reserved {}..{}", r.start(), r.end() - 1);
    }
    for name in &m.reserved_name {
        let _ = writeln!(out, "  reserved {name:?}");
    }
    let mut nested: Vec<_> = m.nested_type.iter().collect();
    nested.sort_by_key(|n| n.name());
    for n in nested {
        render_message(out, &full, n);
    }
    let mut enums: Vec<_> = m.enum_type.iter().collect();
    enums.sort_by_key(|e| e.name());
    for e in enums {
        render_enum(out, &full, e);
    }
}

/// The contract of one compiled file as text: messages, enums and services sorted by name,
/// fields by number, RPCs by name. Comments, option lines and declaration order, which do not
/// reach the wire, leave no trace.
fn render(file: &FileDescriptorProto) -> String {
    let prefix = format!(".{}", file.package());
    let mut out = String::new();
    let mut messages: Vec<_> = file.message_type.iter().collect();
    messages.sort_by_key(|m| m.name());
    for m in messages {
        render_message(&mut out, &prefix, m);
    }
    let mut enums: Vec<_> = file.enum_type.iter().collect();
    enums.sort_by_key(|e| e.name());
    for e in enums {
        render_enum(&mut out, &prefix, e);
    }
    let mut services: Vec<_> = file.service.iter().collect();
    services.sort_by_key(|s| s.name());
    for s in services {
        let _ = writeln!(out, "service {prefix}.{}", s.name());
        let mut methods: Vec<_> = s.method.iter().collect();
        methods.sort_by_key(|m| m.name());
        for m in methods {
            let stream = |yes: bool| if yes { "stream " } else { "" };
            let _ = writeln!(
                out,
                "  rpc {}({}{}) returns ({}{})",
                m.name(),
                stream(m.client_streaming()),
                m.input_type(),
                stream(m.server_streaming()),
                m.output_type()
            );
        }
    }
    out
}

#[test]
fn wire_table_matches_the_published_protocol() {
    let table_path = crate_root().join(TABLE);
    if let Some(reference) = std::env::var_os("TFPLUGIN5_REFERENCE") {
        let table = format!("{SOURCE}\n{}", render(&compile(Path::new(&reference))));
        std::fs::write(&table_path, table).expect("write the table");
    }
    let table = std::fs::read_to_string(&table_path).expect("the checked-in table");
    let want: String = table
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let got = render(&compile(&crate_root().join("tfplugin5.proto")));
    // Lines repeat across messages ("  string type_name = 1"), so the lists name only what no
    // message has; the equality below is the real check.
    let missing: Vec<_> = want
        .lines()
        .filter(|l| !got.lines().any(|g| g == *l))
        .collect();
    let extra: Vec<_> = got
        .lines()
        .filter(|l| !want.lines().any(|w| w == *l))
        .collect();
    assert!(
        want == got,
        "tfplugin5.proto differs from the published protocol.\nexpected but absent: \
         {missing:#?}\npresent but not published: {extra:#?}"
    );
}

#[test]
fn the_table_covers_what_came_after_protocol_5_8() {
    // Guards the table itself: a truncated or stale table would make the comparison above weak.
    let table = std::fs::read_to_string(crate_root().join(TABLE)).expect("the checked-in table");
    for line in [
        "  rpc GetResourceIdentitySchemas(.tfplugin5.GetResourceIdentitySchemas.Request) returns \
         (.tfplugin5.GetResourceIdentitySchemas.Response)",
        "  rpc ListResource(.tfplugin5.ListResource.Request) returns (stream \
         .tfplugin5.ListResource.Event)",
        "  rpc GenerateResourceConfig(.tfplugin5.GenerateResourceConfig.Request) returns \
         (.tfplugin5.GenerateResourceConfig.Response)",
        "  rpc InvokeAction(.tfplugin5.InvokeAction.Request) returns (stream \
         .tfplugin5.InvokeAction.Event)",
        "  .tfplugin5.ResourceIdentityData current_identity = 6",
        "  optional .tfplugin5.DynamicValue resource_object = 3",
        "  repeated .tfplugin5.GetProviderSchema.Response.ListResourceSchemasEntry \
         list_resource_schemas = 9",
        "  reserved 10..10",
        "  string deprecation_message = 11",
        "  bool generate_resource_config = 4",
    ] {
        assert!(table.contains(line), "table lacks {line:?}");
    }
    let rpcs = table
        .split("service .tfplugin5.Provider\n")
        .nth(1)
        .expect("the Provider service")
        .lines()
        .take_while(|l| l.starts_with("  rpc "))
        .count();
    assert_eq!(rpcs, 28, "the Provider service has 28 RPCs");
}

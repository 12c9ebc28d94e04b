//! The cross-built kernel image, checked with the `object` crate.
//!
//! `cargo --config .cargo/cross.toml build --release --target x86_64-pc-windows-msvc
//! --no-default-features` must
//! give a PE32+ kernel image that Windows would load as a driver: AMD64, NATIVE
//! subsystem, NX-compatible and relocatable, page-aligned sections, a valid checksum,
//! `DriverEntry` as its entry point, imports only from ntoskrnl.exe, HAL.dll and ks.sys
//! and only of names those modules export (mingw-w64's import libraries are the list),
//! and no section both writable and executable.
//!
//! The checker is shown to bite: a fixture image importing user32.dll is rejected, and
//! so is the good image after each single-field corruption.

#![cfg(not(miri))]

mod common;

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Where mingw-w64's import libraries live (package mingw-w64-x86-64-dev).
const MINGW_LIB: &str = "/usr/x86_64-w64-mingw32/lib";

/// The kernel modules a driver may import from, and the import library listing each
/// one's exports.
const KERNEL_MODULES: &[(&str, &str)] =
    &[("ntoskrnl.exe", "libntoskrnl.a"), ("hal.dll", "libhal.a"), ("ks.sys", "libks.a")];

/// Exports newer than mingw-w64's import libraries. Each exists in the kernel named.
const NEWER_EXPORTS: &[(&str, &str)] = &[
    // Windows 10 2004+ (wdm.h); the raw backend looks it up with MmGetSystemRoutineAddress
    // instead of importing it, but a build that imports it is still a valid driver.
    ("ntoskrnl.exe", "ExAllocatePool2"),
    // Windows 10 2004+ (wdm.h).
    ("ntoskrnl.exe", "ExAllocatePool3"),
];

type Exports = BTreeMap<String, BTreeSet<String>>;

/// The names each kernel module exports, read from mingw-w64's import libraries: every
/// archive symbol `__imp_<name>` is an import thunk for export `<name>`.
fn kernel_exports() -> Exports {
    let mut exports = Exports::new();
    for (module, lib) in KERNEL_MODULES {
        let path = Path::new(MINGW_LIB).join(lib);
        let data = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (install mingw-w64-x86-64-dev)", path.display()));
        let archive = object::read::archive::ArchiveFile::parse(&*data).expect("import library");
        let names: BTreeSet<String> = archive
            .symbols()
            .expect("archive symbol table")
            .expect("import library without a symbol table")
            .map(|s| String::from_utf8_lossy(s.expect("symbol").name()).into_owned())
            .filter_map(|n| n.strip_prefix("__imp_").map(str::to_owned))
            .collect();
        assert!(names.len() > 10, "{lib}: only {} exports found", names.len());
        exports.insert(module.to_string(), names);
    }
    for (module, name) in NEWER_EXPORTS {
        exports.get_mut(*module).expect("known module").insert(name.to_string());
    }
    exports
}

/// The PE checksum as the loader (and `/RELEASE`) computes it: one's-complement sum
/// of 16-bit words with the checksum field taken as zero, folded, plus the file length.
fn pe_checksum(data: &[u8], checksum_offset: usize) -> u32 {
    let mut sum: u64 = 0;
    for (i, chunk) in data.chunks(2).enumerate() {
        let at = i * 2;
        if at == checksum_offset || at == checksum_offset + 2 {
            continue;
        }
        let word = u16::from_le_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u64::from(word);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    (sum as u32) + data.len() as u32
}

/// What the checker found: the imports (module → names) and every violated rule.
#[derive(Debug, Default)]
struct Report {
    imports: BTreeMap<String, BTreeSet<String>>,
    problems: Vec<String>,
}

fn check_kernel_image(data: &[u8], exports: &Exports) -> Report {
    let mut report = Report::default();
    let file = match PeFile64::parse(data) {
        Ok(f) => f,
        Err(e) => {
            report.problems.push(format!("not a PE32+ image: {e}"));
            return report;
        }
    };
    let nt = file.nt_headers();
    let opt = nt.optional_header();
    let fh = nt.file_header();

    if fh.machine.get(LE).0 != pe::IMAGE_FILE_MACHINE_AMD64.0 {
        report.problems.push(format!("machine {:#x} is not AMD64", fh.machine.get(LE).0));
    }
    if opt.subsystem().0 != pe::IMAGE_SUBSYSTEM_NATIVE.0 {
        report.problems.push(format!("subsystem {} is not NATIVE", opt.subsystem().0));
    }
    let dll = opt.dll_characteristics().0;
    if dll & pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT.0 == 0 {
        report.problems.push("not NX-compatible (IMAGE_DLLCHARACTERISTICS_NX_COMPAT clear)".into());
    }
    if dll & pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE.0 == 0 {
        report.problems.push("no dynamic base (IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE clear)".into());
    }

    // Sections: page-aligned, none both writable and executable.
    if opt.section_alignment() != 0x1000 {
        report.problems.push(format!("section alignment {:#x} is not a page", opt.section_alignment()));
    }
    for section in file.section_table().iter() {
        let name = String::from_utf8_lossy(section.raw_name()).trim_end_matches('\0').to_string();
        let va = section.virtual_address.get(LE);
        if va % 0x1000 != 0 {
            report.problems.push(format!("section {name} at {va:#x} is not page-aligned"));
        }
        let flags = section.characteristics.get(LE).0;
        if flags & pe::IMAGE_SCN_MEM_WRITE.0 != 0 && flags & pe::IMAGE_SCN_MEM_EXECUTE.0 != 0 {
            report.problems.push(format!("section {name} is both writable and executable"));
        }
    }

    // Checksum (set by /RELEASE; the kernel loader requires a valid one for drivers).
    let checksum_offset = file.dos_header().nt_headers_offset() as usize
        + std::mem::size_of::<u32>()
        + std::mem::size_of::<pe::ImageFileHeader>()
        + 64;
    let stored = opt.check_sum();
    let computed = pe_checksum(data, checksum_offset);
    if stored == 0 || stored != computed {
        report.problems.push(format!("checksum {stored:#x} does not match the computed {computed:#x}"));
    }

    // Entry point = DriverEntry (exported by the cdylib, so its address is known).
    let entry = opt.address_of_entry_point();
    let driver_entry = file.export_table().ok().flatten().and_then(|table| {
        table.exports().ok()?.into_iter().find(|e| e.name == Some(b"DriverEntry".as_slice())).and_then(|e| {
            match e.target {
                object::read::pe::ExportTarget::Address(rva) => Some(rva),
                _ => None,
            }
        })
    });
    match driver_entry {
        Some(rva) if rva == entry => {}
        Some(rva) => report.problems.push(format!("entry point {entry:#x} is not DriverEntry ({rva:#x})")),
        None => report.problems.push("no DriverEntry export to compare the entry point with".into()),
    }

    // Imports: only kernel modules, only names they export.
    match file.import_table() {
        Ok(Some(table)) => {
            let mut descriptors = table.descriptors().expect("import descriptors");
            while let Some(desc) = descriptors.next().expect("import descriptor") {
                let module =
                    String::from_utf8_lossy(table.name(desc.name.get(LE)).expect("dll name")).into_owned();
                let key = module.to_ascii_lowercase();
                let mut thunks = table.thunks(desc.original_first_thunk.get(LE)).expect("thunks");
                let mut names = BTreeSet::new();
                while let Some(thunk) = thunks.next::<pe::ImageNtHeaders64>().expect("thunk") {
                    match table.import::<pe::ImageNtHeaders64>(thunk).expect("import") {
                        object::read::pe::Import::Name(_, name) => {
                            names.insert(String::from_utf8_lossy(name).into_owned());
                        }
                        object::read::pe::Import::Ordinal(o) => {
                            report.problems.push(format!("{module}: import by ordinal {o}"));
                        }
                    }
                }
                match exports.get(&key) {
                    None => {
                        report.problems.push(format!("imports from {module}, which is not a kernel module"))
                    }
                    Some(known) => {
                        for name in names.iter().filter(|n| !known.contains(*n)) {
                            report.problems.push(format!("{module} does not export {name}"));
                        }
                    }
                }
                report.imports.entry(key).or_default().extend(names);
            }
        }
        Ok(None) => report.problems.push("no import table".into()),
        Err(e) => report.problems.push(format!("bad import table: {e}")),
    }
    report
}

fn ksframe_bytes() -> Vec<u8> {
    std::fs::read(common::ksframe_image()).expect("read ksframe image")
}

#[test]
fn cross_built_ksframe_image_is_a_valid_kernel_driver() {
    let exports = kernel_exports();
    let report = check_kernel_image(&ksframe_bytes(), &exports);
    assert!(report.problems.is_empty(), "ksframe.sys fails the checks: {:#?}", report.problems);
    // It links against the kernel and AVStream, and nothing else.
    for (module, name) in [
        ("ntoskrnl.exe", "ExAllocatePoolWithTag"),
        ("ntoskrnl.exe", "ExFreePoolWithTag"),
        ("ntoskrnl.exe", "MmGetSystemRoutineAddress"),
        ("ntoskrnl.exe", "DbgPrintEx"),
        ("ks.sys", "KsInitializeDriver"),
        // The paced capture pin: its timer and DPC, its clock and processing restarts.
        ("ntoskrnl.exe", "KeInitializeTimerEx"),
        ("ntoskrnl.exe", "KeInitializeDpc"),
        ("ntoskrnl.exe", "KeSetTimerEx"),
        ("ntoskrnl.exe", "KeCancelTimer"),
        ("ntoskrnl.exe", "KeFlushQueuedDpcs"),
        ("hal.dll", "KeQueryPerformanceCounter"),
        ("ks.sys", "KsPinAttemptProcessing"),
        ("ks.sys", "KsPinGetReferenceClockInterface"),
    ] {
        assert!(report.imports[module].contains(name), "{module}!{name} missing: {:?}", report.imports);
    }
    // ExAllocatePool2 is looked up at run time (Wine and pre-2004 Windows lack it).
    assert!(!report.imports["ntoskrnl.exe"].contains("ExAllocatePool2"));
    assert!(
        report.imports.keys().all(|m| KERNEL_MODULES.iter().any(|(k, _)| k == m)),
        "{:?}",
        report.imports
    );
    eprintln!("ksframe image imports: {:#?}", report.imports);
}

#[test]
fn image_importing_a_user_mode_dll_is_rejected() {
    let exports = kernel_exports();
    let image = common::build_cross_image(
        "tests/fixtures/user-import-image/Cargo.toml",
        "user_import_image",
        "fixture-user-import",
    );
    let report = check_kernel_image(&std::fs::read(image).unwrap(), &exports);
    assert!(
        report.problems.iter().any(|p| p == "imports from user32.dll, which is not a kernel module"),
        "the checker let a user32.dll import through: {:#?}",
        report.problems
    );
}

/// Offsets into the PE headers, for corrupting one field at a time.
fn header_offsets(data: &[u8]) -> (usize, usize) {
    let file = PeFile64::parse(data).unwrap();
    let nt = file.dos_header().nt_headers_offset() as usize;
    let optional = nt + 4 + std::mem::size_of::<pe::ImageFileHeader>();
    (nt, optional)
}

#[test]
fn each_single_corruption_of_the_good_image_is_caught() {
    let exports = kernel_exports();
    let good = ksframe_bytes();
    let (nt, opt) = header_offsets(&good);
    // Offsets in IMAGE_OPTIONAL_HEADER64.
    const SUBSYSTEM: usize = 68;
    const DLL_CHARACTERISTICS: usize = 70;
    const CHECKSUM: usize = 64;
    const ENTRY: usize = 16;

    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();

    let mut bad = good.clone();
    bad[nt + 4..nt + 6].copy_from_slice(&0x14cu16.to_le_bytes()); // i386
    cases.push(("machine", bad, "is not AMD64"));

    let mut bad = good.clone();
    bad[opt + SUBSYSTEM..opt + SUBSYSTEM + 2].copy_from_slice(&3u16.to_le_bytes()); // console
    cases.push(("subsystem", bad, "is not NATIVE"));

    let mut bad = good.clone();
    let flags = u16::from_le_bytes([bad[opt + DLL_CHARACTERISTICS], bad[opt + DLL_CHARACTERISTICS + 1]]);
    bad[opt + DLL_CHARACTERISTICS..opt + DLL_CHARACTERISTICS + 2]
        .copy_from_slice(&(flags & !pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT.0).to_le_bytes());
    cases.push(("nx", bad, "not NX-compatible"));

    let mut bad = good.clone();
    let sum = u32::from_le_bytes(bad[opt + CHECKSUM..opt + CHECKSUM + 4].try_into().unwrap());
    bad[opt + CHECKSUM..opt + CHECKSUM + 4].copy_from_slice(&(sum ^ 1).to_le_bytes());
    cases.push(("checksum", bad, "does not match"));

    let mut bad = good.clone();
    let entry = u32::from_le_bytes(bad[opt + ENTRY..opt + ENTRY + 4].try_into().unwrap());
    bad[opt + ENTRY..opt + ENTRY + 4].copy_from_slice(&(entry + 16).to_le_bytes());
    cases.push(("entry", bad, "is not DriverEntry"));

    // Make the first executable section writable too.
    let mut bad = good.clone();
    let file = PeFile64::parse(&*good).unwrap();
    let sections_at = opt + file.nt_headers().file_header().size_of_optional_header.get(LE) as usize;
    let count = file.section_table().len();
    let text = (0..count)
        .map(|i| sections_at + i * 40)
        .find(|&at| {
            u32::from_le_bytes(good[at + 36..at + 40].try_into().unwrap()) & pe::IMAGE_SCN_MEM_EXECUTE.0 != 0
        })
        .expect("an executable section");
    let chars = u32::from_le_bytes(bad[text + 36..text + 40].try_into().unwrap()) | pe::IMAGE_SCN_MEM_WRITE.0;
    bad[text + 36..text + 40].copy_from_slice(&chars.to_le_bytes());
    cases.push(("w+x", bad, "both writable and executable"));

    for (what, image, expected) in cases {
        let report = check_kernel_image(&image, &exports);
        assert!(
            report.problems.iter().any(|p| p.contains(expected)),
            "corrupting {what} was not caught (expected '{expected}'): {:#?}",
            report.problems
        );
    }
}

#[test]
fn checksum_matches_a_known_vector() {
    // A 4-byte "file" with the checksum field outside it: the sum of the two words
    // 0x0201 + 0x0403 = 0x0604, plus the length 4.
    assert_eq!(pe_checksum(&[1, 2, 3, 4], 100), 0x0608);
    // Carries fold back into the low 16 bits: 0xffff + 0x0002 = 0x1_0001 -> 0x0002.
    assert_eq!(pe_checksum(&[0xff, 0xff, 2, 0], 100), 0x0002 + 4);
}

#[test]
fn import_libraries_list_the_kernel_exports_the_driver_needs() {
    let exports = kernel_exports();
    for (module, name) in [
        ("ntoskrnl.exe", "ExAllocatePoolWithTag"),
        ("ntoskrnl.exe", "MmGetSystemRoutineAddress"),
        ("ntoskrnl.exe", "KeBugCheckEx"),
        ("ks.sys", "KsInitializeDriver"),
        ("hal.dll", "KeQueryPerformanceCounter"),
    ] {
        assert!(exports[module].contains(name), "{module} lacks {name}");
    }
    assert!(!exports["ntoskrnl.exe"].contains("MessageBeep"));
}

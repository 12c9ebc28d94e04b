//! The INF's structure: every section it references exists, its GUIDs are well formed
//! and equal the code's, and the service binary is the crate's output.

use ksframe::ks::{GUID, KSCATEGORY_CAPTURE, KSCATEGORY_VIDEO, KSCATEGORY_VIDEO_CAMERA};
use std::collections::BTreeMap;

type Sections = BTreeMap<String, Vec<(String, String)>>;

/// Sections (lower-cased names) of `key = value` lines, comments and blank lines dropped.
fn parse(text: &str) -> Sections {
    let mut sections = Sections::new();
    let mut current = None;
    for raw in text.lines() {
        let line = raw.split(';').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_ascii_lowercase();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let section = current.clone().expect("a line outside any section");
        let (key, value) = line.split_once('=').map_or((line, ""), |(k, v)| (k.trim(), v.trim()));
        sections.get_mut(&section).unwrap().push((key.to_string(), value.to_string()));
    }
    sections
}

fn values<'a>(sections: &'a Sections, section: &str, key: &str) -> Vec<&'a str> {
    sections[&section.to_ascii_lowercase()]
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn inf() -> Sections {
    parse(include_str!("../inf/ksframe.inx"))
}

fn guid_of(text: &str) -> GUID {
    let t = text.trim_matches('"').trim_matches(|c| c == '{' || c == '}');
    let parts: Vec<&str> = t.split('-').collect();
    assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "malformed GUID {text}");
    GUID::from_u128(u128::from_str_radix(&parts.concat(), 16).expect("hex GUID"))
}

#[test]
fn every_referenced_section_exists() {
    let s = inf();
    let has = |name: &str| s.contains_key(&name.trim().to_ascii_lowercase());
    // Models sections named by [Manufacturer].
    for value in s["manufacturer"].iter().map(|(_, v)| v) {
        let mut parts = value.split(',').map(str::trim);
        let base = parts.next().unwrap();
        for decoration in parts {
            let model = format!("{base}.{decoration}");
            assert!(has(&model), "models section [{model}] missing");
        }
    }
    // Install sections named by the models, with their .Interfaces/.Services/.Wdf.
    let models: Vec<String> = s
        .keys()
        .filter(|k| k.starts_with("standard.nt"))
        .flat_map(|k| s[k].iter().map(|(_, v)| v.split(',').next().unwrap().trim().to_string()))
        .collect();
    assert_eq!(models, ["ksframe"]);
    for install in &models {
        for suffix in [".nt", ".nt.interfaces", ".nt.services", ".nt.wdf"] {
            assert!(has(&format!("{install}{suffix}")), "[{install}{suffix}] missing");
        }
    }
    // Directives naming other sections of this INF.
    let mut referenced = Vec::new();
    for (section, lines) in &s {
        for (key, value) in lines {
            let key = key.to_ascii_lowercase();
            let fields: Vec<&str> = value.split(',').map(str::trim).collect();
            match key.as_str() {
                "copyfiles" | "addreg" => referenced.extend(fields.iter().map(|f| f.to_string())),
                "addinterface" => referenced.push(fields[2].to_string()),
                "addservice" => referenced.push(fields[2].to_string()),
                "kmdfservice" => referenced.push(fields[1].to_string()),
                _ => {}
            }
            if section == "destinationdirs" && key != "defaultdestdir" {
                referenced.push(key.clone());
            }
        }
    }
    assert!(referenced.len() >= 7, "{referenced:?}");
    for name in referenced {
        assert!(has(&name), "[{name}] is referenced but missing");
    }
    // AVStream's registration comes from ks.inf and kscaptur.inf.
    assert_eq!(values(&s, "ksframe.NT", "Include"), ["ks.inf, kscaptur.inf"]);
    assert_eq!(values(&s, "ksframe.NT", "Needs"), ["KS.Registration, KSCAPTUR.Registration.NT"]);
    assert_eq!(values(&s, "ksframe_wdfsect", "KmdfLibraryVersion"), ["$KMDFVERSION$"]);
}

#[test]
fn guids_are_well_formed_and_match_the_code() {
    let s = inf();
    let strings: BTreeMap<String, String> =
        s["strings"].iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches('"').to_string())).collect();
    for (name, code) in [
        ("kscategory_capture", KSCATEGORY_CAPTURE),
        ("kscategory_video", KSCATEGORY_VIDEO),
        ("kscategory_video_camera", KSCATEGORY_VIDEO_CAMERA),
    ] {
        assert_eq!(guid_of(&strings[name]), code, "{name}");
    }
    // KSNAME_Filter (ks.h) and KsProxy's CLSID (CLSID_Proxy, ksproxy.ax).
    assert_eq!(guid_of(&strings["ksname_filter"]), GUID::from_u128(0x9B365890_165F_11D0_A195_0020AFD156E4));
    assert_eq!(guid_of(&strings["proxyvcap.clsid"]), GUID::from_u128(0x17CCA71B_ECD7_11D0_B908_00A0C9223196));
    // The Camera setup class.
    assert_eq!(
        guid_of(values(&s, "Version", "ClassGuid")[0]),
        GUID::from_u128(0xCA3E7AB9_B4C3_4AE6_8251_579EF933890F)
    );
    // Each interface is added under one of these categories.
    for value in values(&s, "ksframe.NT.Interfaces", "AddInterface") {
        let category = value.split(',').next().unwrap().trim().trim_matches('%').to_ascii_lowercase();
        assert!(strings.contains_key(&category), "{category}");
    }
}

#[test]
fn the_service_binary_is_the_crates_output() {
    let s = inf();
    let binary = format!("{}.sys", env!("CARGO_PKG_NAME"));
    assert_eq!(values(&s, "ksframe.Service", "ServiceBinary"), [format!("%13%\\{binary}")]);
    assert_eq!(values(&s, "ksframe.CopyFiles", &binary), [""]);
    assert!(values(&s, "SourceDisksFiles", &binary).len() == 1);
    assert_eq!(values(&s, "ksframe.Service", "ServiceType"), ["1"]);
}

/// Opening a device interface reaches the filter factory whose
/// KSFILTER_DESCRIPTOR.ReferenceGuid, as a string, is the interface's reference string
/// (KsCreateFilterFactory docs; avshws and avssamp register KSNAME_Filter in both
/// places). Every AddInterface's reference string must be a filter's ReferenceGuid, and
/// every filter's categories must be registered with it.
#[test]
fn every_interface_reference_string_names_a_filter_of_the_device() {
    let s = inf();
    let strings: BTreeMap<String, String> =
        s["strings"].iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches('"').to_string())).collect();
    let device = &ksframe::avstream::DEVICE_DESCRIPTOR;
    // SAFETY: the device's static filter list of FilterDescriptorsCount descriptors.
    let filters = unsafe {
        std::slice::from_raw_parts(device.FilterDescriptors, device.FilterDescriptorsCount as usize)
            .iter()
            .map(|f| &**f)
            .collect::<Vec<_>>()
    };
    let mut registered = Vec::new();
    for value in values(&s, "ksframe.NT.Interfaces", "AddInterface") {
        let fields: Vec<&str> = value.split(',').map(str::trim).collect();
        let lookup = |f: &str| guid_of(&strings[&f.trim_matches('%').to_ascii_lowercase()]);
        let (category, reference) = (lookup(fields[0]), lookup(fields[1]));
        let filter = filters.iter().find(|f| {
            // SAFETY: a static GUID.
            (unsafe { f.ReferenceGuid.as_ref() }) == Some(&reference)
        });
        assert!(filter.is_some(), "AddInterface {value}: no filter has ReferenceGuid {reference:?}");
        registered.push((category, reference));
    }
    for f in &filters {
        // SAFETY: static GUIDs.
        let reference = unsafe { *f.ReferenceGuid };
        // SAFETY: CategoriesCount static GUIDs.
        let categories = unsafe { std::slice::from_raw_parts(f.Categories, f.CategoriesCount as usize) };
        for c in categories {
            assert!(registered.contains(&(*c, reference)), "category {c:?} of the filter is not registered");
        }
    }
    assert_eq!(filters.len(), 1);
    // SAFETY: a static GUID.
    assert_eq!(unsafe { *filters[0].ReferenceGuid }, ksframe::ks::KSNAME_Filter);
}

/// The cargo-make flow and `cargo wdk build` stamp `<crate root>/<crate name>.inx`; the
/// design keeps the INF under `inf/`. The two are one file: this test fails when they
/// differ (copy inf/ksframe.inx over ksframe.inx after editing it).
#[test]
fn the_inx_at_the_crate_root_is_the_one_under_inf() {
    let root = include_str!("../ksframe.inx");
    let inf = include_str!("../inf/ksframe.inx");
    assert!(root == inf, "ksframe.inx and inf/ksframe.inx differ: copy inf/ksframe.inx to ksframe.inx");
    assert_eq!(env!("CARGO_PKG_NAME"), "ksframe", "the flow looks for <crate name>.inx");
}

/// What stampinf does to the INX in the cargo-make / cargo-wdk flow (the "StampInf"
/// docs page; windows-drivers-rs's rust-driver-makefile.toml runs it with `-d * -a
/// <arch> -v * -k <kmdf major.minor>`): `$ARCH$` becomes the architecture, `$KMDFVERSION$`
/// the KMDF version, and the [Version] section's DriverVer gets a date and version.
fn stamp(inx: &str, arch: &str, kmdf: &str) -> String {
    inx.lines()
        .map(|line| {
            if line.trim_start().starts_with("DriverVer") {
                "DriverVer   = 11/30/2026,0.1.0.0".to_string()
            } else {
                line.replace("$ARCH$", arch).replace("$KMDFVERSION$", kmdf)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_token_is_one_stampinf_fills_and_the_stamped_inf_is_complete() {
    let inx = include_str!("../ksframe.inx");
    // Every $TOKEN$ outside comments and the Signature literal is one stampinf fills.
    let mut tokens = std::collections::BTreeSet::new();
    for line in inx.lines() {
        let line = line.split(';').next().unwrap_or("");
        if line.trim_start().starts_with("Signature") {
            continue;
        }
        let parts: Vec<&str> = line.split('$').collect();
        for token in parts.iter().skip(1).step_by(2) {
            tokens.insert(token.to_string());
        }
    }
    assert_eq!(tokens.into_iter().collect::<Vec<_>>(), ["ARCH", "KMDFVERSION"]);

    // The KMDF version the flow passes comes from [package.metadata.wdk.driver-model].
    let manifest = include_str!("../Cargo.toml");
    let field = |key: &str| -> String {
        let line = manifest.lines().find(|l| l.trim_start().starts_with(key)).unwrap();
        line.split('=').nth(1).unwrap().trim().to_string()
    };
    assert_eq!(field("driver-type"), "\"KMDF\"");
    let kmdf = format!("{}.{}", field("kmdf-version-major"), field("target-kmdf-version-minor"));
    assert_eq!(kmdf, "1.33");

    let stamped = stamp(inx, "amd64", &kmdf);
    let s = parse(&stamped);
    assert!(!stamped.lines().any(|l| {
        let l = l.split(';').next().unwrap_or("");
        l.contains('$') && !l.trim_start().starts_with("Signature")
    }));
    let driver_ver = values(&s, "Version", "DriverVer");
    assert_eq!(driver_ver.len(), 1);
    let (date, version) = driver_ver[0].split_once(',').unwrap();
    assert_eq!(date.split('/').count(), 3, "DriverVer date mm/dd/yyyy");
    assert_eq!(version.split('.').count(), 4, "DriverVer version w.x.y.z");
    // The manufacturer's decorated models section exists for amd64.
    assert_eq!(values(&s, "Manufacturer", "%ManufacturerName%"), ["Standard,NTamd64.10.0...16299"]);
    assert!(s.contains_key("standard.ntamd64.10.0...16299"));
    assert_eq!(values(&s, "ksframe_wdfsect", "KmdfLibraryVersion"), ["1.33"]);
}

//! ksprobe: what KsStudio shows of a KS video capture filter, from the command line.
//!
//! - `ksprobe list`: the KSCATEGORY_CAPTURE filters that are also KSCATEGORY_VIDEO
//!   (SetupDi), with their pins: KSPROPERTY_PIN_CTYPES, DATAFLOW, COMMUNICATION, CATEGORY
//!   and DATARANGES, decoded.
//! - `ksprobe framing [--format K]`: a pin created with KsCreatePin for each format (or
//!   one); KSPROPERTY_CONNECTION_ALLOCATORFRAMING and ALLOCATORFRAMING_EX read with the
//!   KS size query and decoded; KSPROPERTY_STREAM_ALLOCATOR Get; ksframe's statistics set.
//! - `ksprobe stream N`: KsCreateAllocator on the pin with its framing, STOP → ACQUIRE →
//!   PAUSE → RUN, N frames read with IOCTL_KS_READ_STREAM (overlapped, Frames in flight),
//!   ksframe's test pattern checked, timestamps and drops shown, back to STOP; the
//!   statistics before and after.
//! - `ksprobe get SET ID`: one property request on the filter or a pin, the answer or the
//!   Win32 error (and NTSTATUS) a Windows client sees.
//!
//! `--json` prints one JSON document for scripts. A failing call prints the Win32 error
//! and, where the request was overlapped, the NTSTATUS behind it; the exit status is 1.
//!
//! The decoding (`decode`, `pattern`, `errors`, `report`) is plain Rust and unit-tested on
//! any host; only `win` calls Win32 (windows-sys) and is compiled for Windows alone.

// Off Windows only the decoders' tests use them.
#![cfg_attr(not(windows), allow(dead_code))]

mod decode;
mod errors;
mod pattern;
mod report;
#[cfg(windows)]
mod win;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ksprobe",
    version,
    about = "Probe KS/AVStream video capture filters (a KsStudio companion)"
)]
pub struct Cli {
    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The filter to use: a substring of its device interface path or friendly name
    /// (default: the first KSCATEGORY_CAPTURE + VIDEO filter).
    #[arg(long, global = true)]
    pub device: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// List capture filters and their pins, with decoded data ranges.
    List,
    /// Create a pin per format and read its allocator framing.
    Framing {
        /// The pin factory id.
        #[arg(long, default_value_t = 0)]
        pin: u32,
        /// Only this data range (index into the pin's DATARANGES); default: every one.
        #[arg(long)]
        format: Option<usize>,
    },
    /// Stream N frames from a pin and check them.
    Stream {
        /// Frames to read.
        frames: u32,
        #[arg(long, default_value_t = 0)]
        pin: u32,
        /// The data range (index into the pin's DATARANGES).
        #[arg(long, default_value_t = 0)]
        format: usize,
        /// Do not create an allocator on the pin first.
        #[arg(long)]
        no_allocator: bool,
    },
    /// One property request, as any client could send it.
    Get {
        /// Property set: Pin, Connection, Stream, General, KsframeAllocator, or a {GUID}.
        set: String,
        /// Property id.
        id: u32,
        /// Send it to a pin created with this data range instead of the filter.
        #[arg(long)]
        on_pin_format: Option<usize>,
        /// The pin factory id (a KSP_PIN request on the filter, or the pin to create).
        #[arg(long, default_value_t = 0)]
        pin: u32,
        /// Bytes of output buffer (0 is the KS size query).
        #[arg(long, default_value_t = 0)]
        out: u32,
        /// Bytes of input to send (default: a whole KSPROPERTY, or KSP_PIN on the filter).
        #[arg(long)]
        input: Option<u32>,
        /// KSPROPERTY flags (1 GET, 2 SET, 0x100 SETSUPPORT, 0x200 BASICSUPPORT).
        #[arg(long, default_value_t = 1)]
        flags: u32,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = run(&cli);
    let code = match &result {
        Ok(_) => 0,
        Err(_) => 1,
    };
    let doc = match result {
        Ok(v) => v,
        Err(f) => serde_json::json!({ "command": format!("{:?}", cli.command), "error": f }),
    };
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print!("{}", report::text(&doc));
        if let Some(e) = doc.get("error").filter(|_| code != 0) {
            eprintln!("ksprobe: {}", report::failure_line(e));
        }
    }
    std::process::exit(code);
}

#[cfg(windows)]
fn run(cli: &Cli) -> Result<serde_json::Value, errors::Failure> {
    win::run(cli)
}

#[cfg(not(windows))]
fn run(_cli: &Cli) -> Result<serde_json::Value, errors::Failure> {
    Err(errors::Failure::new("ksprobe (a Windows program; build it for x86_64-pc-windows-gnu)", 50, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_parses() {
        let cli = Cli::try_parse_from(["ksprobe", "--json", "stream", "30", "--format", "3"]).unwrap();
        assert!(cli.json);
        assert!(matches!(
            cli.command,
            Command::Stream { frames: 30, format: 3, pin: 0, no_allocator: false }
        ));
        let cli = Cli::try_parse_from(["ksprobe", "framing", "--device", "ksframe"]).unwrap();
        assert_eq!(cli.device.as_deref(), Some("ksframe"));
        assert!(Cli::try_parse_from(["ksprobe", "stream"]).is_err());
        let cli = Cli::try_parse_from([
            "ksprobe",
            "get",
            "Connection",
            "3",
            "--on-pin-format",
            "0",
            "--input",
            "12",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Get { id: 3, input: Some(12), .. }));
    }
}

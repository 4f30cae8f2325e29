//! Log line formats shared by the Canopy binaries. `short` is for people watching a terminal
//! (`./scripts/dev`): the time, the level when it is not INFO, the message and the event's own
//! fields, with no span context. The full span chain stays one `RUST_LOG` away in `text`.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// One short line per event: `HH:MM:SS [LEVEL ]message field=value…` (UTC).
#[derive(Debug, Clone, Copy, Default)]
pub struct ShortFormat;

impl<S, N> FormatEvent<S, N> for ShortFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        write_line_start(&mut writer, seconds, *event.metadata().level())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// The time of day (UTC) and, unless the event is INFO, its level.
fn write_line_start(writer: &mut Writer<'_>, unix_seconds: u64, level: Level) -> fmt::Result {
    let day = unix_seconds % 86_400;
    write!(
        writer,
        "{:02}:{:02}:{:02} ",
        day / 3600,
        day / 60 % 60,
        day % 60
    )?;
    if level != Level::INFO {
        write!(writer, "{level} ")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut inner = self.0.lock().map_err(|_| io::Error::other("poisoned"))?;
            inner.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    fn lines_of(emit: impl FnOnce()) -> Vec<String> {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .event_format(ShortFormat)
            .with_writer(buffer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = buffer
            .0
            .lock()
            .map(|inner| inner.clone())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn an_event_in_spans_prints_without_their_fields() {
        let lines = lines_of(|| {
            let request = tracing::info_span!("HTTP request", request_id = "r-123");
            let _entered = request.enter();
            tracing::info!(duration_ms = 3, "GET /readyz 200");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert!(line.ends_with(" GET /readyz 200 duration_ms=3"), "{line}");
        assert!(
            !line.contains("r-123") && !line.contains("HTTP request"),
            "{line}"
        );
        assert!(!line.contains("INFO"), "INFO is implied: {line}");
    }

    #[test]
    fn levels_other_than_info_are_named() {
        let lines = lines_of(|| tracing::warn!("disk almost full"));
        assert!(lines[0].ends_with(" WARN disk almost full"), "{lines:?}");
    }

    #[test]
    fn the_time_of_day_is_utc_hours_minutes_seconds() {
        let mut text = String::new();
        let mut writer = Writer::new(&mut text);
        // Whole days since the epoch plus 16 h 8 min 29 s.
        write_line_start(&mut writer, 20_790 * 86_400 + 58_109, Level::ERROR).expect("written");
        assert_eq!(text, "16:08:29 ERROR ");
    }
}

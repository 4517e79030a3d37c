//! Progress on stderr: a line for the current state (from the interpreter's execution history),
//! a bar for the rows Export and Transform stream (from [`RowProgress`]), and a bar over the
//! Distributed Map's chunks for Process.

use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use shared::asl::{HistoryEvent, HistoryEventKind, Observer};
use shared::handlers::RowProgress;

pub struct Progress {
    multi: MultiProgress,
    state: ProgressBar,
    /// The bar of the state that is streaming rows now, with that state's name.
    rows: Mutex<Option<(String, ProgressBar)>>,
    chunks: Mutex<Option<ProgressBar>>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress {
    /// `quiet` (with `--json`) draws nothing, so stderr carries only errors.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let multi = MultiProgress::with_draw_target(target);
        let state = multi.add(ProgressBar::new_spinner());
        state.set_style(style("{spinner} {elapsed_precise} {msg}"));
        Progress {
            multi,
            state,
            rows: Mutex::new(None),
            chunks: Mutex::new(None),
        }
    }

    pub fn finish(&self) {
        self.state.finish_and_clear();
        if let Ok(Some((_, bar))) = self.rows.lock().map(|mut r| r.take()) {
            bar.finish();
        }
        if let Ok(Some(bar)) = self.chunks.lock().map(|mut c| c.take()) {
            bar.finish();
        }
    }

    fn new_rows_bar(&self, state: &str, bytes: Option<(u64, u64)>) -> ProgressBar {
        match bytes {
            // The source size is known (Transform reads one object): a real bar over bytes.
            Some((_, total)) => {
                let bar = self.multi.add(ProgressBar::new(total));
                bar.set_style(style(&format!(
                    "{:<9} [{{bar:30}}] {{bytes}}/{{total_bytes}} {{msg}} ({{eta}} left)",
                    state.to_lowercase()
                )));
                bar
            }
            // Export pages through a table whose size it does not know: a row counter.
            None => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(style(&format!(
                    "{:<9} {{spinner}} {{msg}} {{elapsed_precise}}",
                    state.to_lowercase()
                )));
                bar
            }
        }
    }
}

impl RowProgress for Progress {
    fn rows(&self, state: &str, rows: u64, bytes: Option<(u64, u64)>) {
        let Ok(mut current) = self.rows.lock() else {
            return;
        };
        if current.as_ref().is_none_or(|(s, _)| s != state) {
            if let Some((_, old)) = current.take() {
                old.finish();
            }
            *current = Some((state.to_string(), self.new_rows_bar(state, bytes)));
        }
        if let Some((_, bar)) = current.as_ref() {
            match bytes {
                Some((read, _)) => bar.set_position(read),
                None => bar.tick(),
            }
            bar.set_message(format!("{rows} rows"));
        }
    }
}

impl Observer for Progress {
    fn on_event(&self, event: &HistoryEvent) {
        match event.kind {
            HistoryEventKind::StateEntered => {
                if let Some(state) = &event.state {
                    self.state.set_message(format!("state {state}"));
                    self.state.tick();
                }
            }
            HistoryEventKind::MapRunStarted => {
                let total = event
                    .detail
                    .get("totalItems")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
                let bar = self.multi.add(ProgressBar::new(total));
                bar.set_style(style(
                    "process   [{bar:30}] {pos}/{len} chunks {elapsed_precise} ({eta} left)",
                ));
                if let Ok(mut c) = self.chunks.lock() {
                    *c = Some(bar);
                }
            }
            HistoryEventKind::MapItemSucceeded | HistoryEventKind::MapItemFailed => {
                if let Ok(c) = self.chunks.lock()
                    && let Some(bar) = c.as_ref()
                {
                    bar.inc(1);
                }
            }
            HistoryEventKind::MapRunSucceeded | HistoryEventKind::MapRunFailed => {
                if let Ok(mut c) = self.chunks.lock()
                    && let Some(bar) = c.take()
                {
                    bar.finish();
                }
            }
            _ => {}
        }
    }
}

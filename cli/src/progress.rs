//! Progress on stderr, driven by the interpreter's execution history events.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use shared::asl::{HistoryEvent, HistoryEventKind, Observer};

pub struct Progress {
    state: ProgressBar,
    chunks: Mutex<Option<ProgressBar>>,
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let state = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        state.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        if quiet {
            state.set_draw_target(ProgressDrawTarget::hidden());
        }
        Progress {
            state,
            chunks: Mutex::new(None),
            quiet,
        }
    }

    pub fn finish(&self) {
        self.state.finish_and_clear();
        if let Ok(Some(bar)) = self.chunks.lock().map(|mut c| c.take()) {
            bar.finish();
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
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                if self.quiet {
                    bar.set_draw_target(ProgressDrawTarget::hidden());
                }
                bar.set_style(
                    ProgressStyle::with_template(
                        "process {bar:40} {pos}/{len} chunks {elapsed_precise} (eta {eta})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
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

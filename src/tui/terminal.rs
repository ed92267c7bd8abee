//! The terminal shell around the pure app: raw mode, the alternate screen,
//! mouse capture, the input loop and wall-clock playback. The only place in
//! the UI that reads a clock; everything it decides goes through
//! [`update`] as a [`Msg`].

use std::io::{self, IsTerminal};
use std::path::Path;
use std::time::{Duration, Instant};

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;

use super::app::{App, Msg, update};
use super::view::render;
use super::{TuiError, open};

/// Frame interval while playing (about 30 frames a second).
const PLAY_FRAME: Duration = Duration::from_millis(33);
/// Input poll interval while paused (nothing changes without input).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Opens `path` and runs the replay UI until the user quits. The terminal is
/// restored on exit, on error and on panic.
#[allow(
    clippy::disallowed_methods,
    reason = "the TUI event loop is the one place the replay reads the wall clock: playback speed is virtual time per wall second"
)]
pub fn run_replay(path: &Path) -> Result<(), TuiError> {
    // Indexing first, before the alternate screen: its progress line and any
    // error (a missing file, not a trace) land on the normal screen.
    let replay = open(path)?;
    if !io::stdout().is_terminal() {
        return Err(TuiError::NotATerminal(
            "standard output is not a terminal".into(),
        ));
    }
    let mut app = App::new(replay);
    // Runs after ratatui's own hook (which leaves raw mode and the alternate screen).
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(io::stdout(), DisableMouseCapture);
        hook(info);
    }));
    let mut terminal = ratatui::try_init().map_err(TuiError::Terminal)?;
    let _ = execute!(io::stdout(), EnableMouseCapture);
    let result = event_loop(&mut terminal, &mut app);
    let _ = execute!(io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

#[allow(
    clippy::disallowed_methods,
    reason = "wall-clock playback: see run_replay"
)]
fn event_loop(terminal: &mut DefaultTerminal, app: &mut App) -> Result<(), TuiError> {
    let size = terminal.size().map_err(TuiError::Terminal)?;
    update(app, Msg::Resize(size.width, size.height));
    let mut last = Instant::now();
    loop {
        terminal
            .draw(|f| render(app, f))
            .map_err(TuiError::Terminal)?;
        if app.should_quit() {
            return Ok(());
        }
        let timeout = if app.playing() {
            PLAY_FRAME.saturating_sub(last.elapsed())
        } else {
            IDLE_POLL
        };
        if event::poll(timeout).map_err(TuiError::Terminal)? {
            // Take every pending input before drawing again.
            loop {
                match event::read().map_err(TuiError::Terminal)? {
                    Event::Key(k) => update(app, Msg::Key(k)),
                    Event::Mouse(m) => update(app, Msg::Mouse(m)),
                    Event::Resize(w, h) => update(app, Msg::Resize(w, h)),
                    _ => {}
                }
                if app.should_quit() || !event::poll(Duration::ZERO).map_err(TuiError::Terminal)? {
                    break;
                }
            }
        }
        let now = Instant::now();
        let wall = now - last;
        last = now;
        if app.playing() {
            let delta = app.virtual_for_wall(wall);
            update(app, Msg::Tick(delta));
        }
    }
}

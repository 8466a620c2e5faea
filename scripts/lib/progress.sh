#!/usr/bin/env bash
# scripts/lib/progress.sh - progress of a script's long phases, sourced by scripts/
# (bench, sanitize). On a terminal: one live line on stderr, redrawn every second
# with the elapsed time, the phase and its latest detail, then a permanent line
# when the phase ends. Otherwise (CI, a pipe, a file): one plain line per event,
# nothing redrawn.
#
#   . "$repo/scripts/lib/progress.sh"
#   progress_init NAME             NAME starts every line ("scripts/bench"). Picks
#                                  the mode: live when stdout and stderr are both
#                                  terminals and TERM is not dumb, plain otherwise;
#                                  IPC_PROGRESS=live or plain overrides. Sets EXIT,
#                                  INT and TERM traps that call progress_stop (a
#                                  script that sets its own EXIT trap afterwards
#                                  must call progress_stop in it).
#   progress_phase TEXT [FILE SED] a phase begins: "NAME: TEXT ..." (plain), or the
#                                  live line "NAME 1m02s | TEXT 12s | DETAIL". With
#                                  FILE and SED, the live line's detail is, at each
#                                  redraw, the last line `sed -n SED` prints from the
#                                  end of FILE (a build or test log: ninja's [n/N]).
#   progress_detail TEXT           the phase's latest news (a sample's rate): plain
#                                  "NAME: PHASE: TEXT"; live: shown on the line.
#   progress_done [RESULT]         the phase ends: "NAME: PHASE: RESULT (12s)" in
#                                  both modes, a permanent line.
#   progress_log TEXT              a permanent line (may hold several lines), printed
#                                  without garbling the live line; empty: nothing.
#   progress_stop                  ends the live line (an unfinished phase stays
#                                  visible, with a final newline); idempotent.
#
# Every line goes to stderr; stdout stays the script's result (a table). The live
# line is redrawn by a background subshell that holds no child process (its one-
# second wait is bash's read -t), is restarted on each event and killed and
# reaped by the next event, by progress_done/progress_stop and by the traps; it
# also ends by itself within a second when the script is gone (kill -9).
# Call these functions from the script's own shell, not from a pipeline or $( ):
# a subshell only prints, it never starts or stops the live line.

_progress_name=progress
_progress_mode=plain
_progress_owner=
_progress_t0=0
_progress_phase=
_progress_phase_t0=0
_progress_detail=
_progress_watch=
_progress_watch_sed=
_progress_ticker=
_progress_cols=80

_progress_now() { # -> _progress_t (whole seconds)
  if [ -n "${EPOCHSECONDS:-}" ]; then _progress_t=$EPOCHSECONDS; else _progress_t=$(date +%s); fi
}

_progress_fmt() { # VAR SECONDS -> VAR="42s", "3m05s", "1h02m"
  local s=$2
  if [ "$s" -lt 60 ]; then printf -v "$1" '%ds' "$s"
  elif [ "$s" -lt 3600 ]; then printf -v "$1" '%dm%02ds' $((s / 60)) $((s % 60))
  else printf -v "$1" '%dh%02dm' $((s / 3600)) $((s % 3600 / 60)); fi
}

_progress_in_owner() { [ "${BASHPID:-}" = "$_progress_owner" ]; }

progress_init() {
  _progress_name=${1:-${0##*/}}
  _progress_owner=${BASHPID:-$$}
  _progress_now
  _progress_t0=$_progress_t
  case "${IPC_PROGRESS:-}" in
    live) _progress_mode=live ;;
    plain) _progress_mode=plain ;;
    *) if [ -t 1 ] && [ -t 2 ] && [ -n "${TERM:-}" ] && [ "${TERM:-}" != dumb ]; then
         _progress_mode=live
       else
         _progress_mode=plain
       fi ;;
  esac
  if [ "$_progress_mode" = live ]; then
    local rows cols
    read -r rows cols < <(stty size <&2 2>/dev/null) || true
    [[ "${cols:-}" =~ ^[1-9][0-9]*$ ]] && _progress_cols=$cols
    : "${rows:=}"
  fi
  trap progress_stop EXIT
  trap '_progress_signal INT' INT
  trap '_progress_signal TERM' TERM
}

_progress_signal() { # SIG: stop the live line, then die of SIG as without the trap
  progress_stop
  trap - "$1" EXIT
  kill -s "$1" "${BASHPID:-$$}"
}

_progress_draw() { # one frame of the live line
  local t_all t_phase detail line w
  _progress_now
  _progress_fmt t_all $((_progress_t - _progress_t0))
  _progress_fmt t_phase $((_progress_t - _progress_phase_t0))
  detail=$_progress_detail
  if [ -n "$_progress_watch" ] && [ -r "$_progress_watch" ]; then
    w=$(tail -c 16384 "$_progress_watch" 2>/dev/null | tr '\r' '\n' |
      sed -n "$_progress_watch_sed" 2>/dev/null | tail -n 1) || w=
    [ -n "$w" ] && detail=$w
  fi
  line="$_progress_name $t_all | $_progress_phase $t_phase"
  [ -n "$detail" ] && line+=" | $detail"
  printf '\r\033[K%s' "${line:0:$((_progress_cols - 1))}" >&2
}

_progress_ticker_stop() {
  if [ -n "$_progress_ticker" ]; then
    # SIGKILL: a ticker killed right after its fork may not have dropped the
    # parent's INT/TERM traps yet, and would run them; it holds nothing to clean.
    kill -KILL "$_progress_ticker" 2>/dev/null || true
    wait "$_progress_ticker" 2>/dev/null || true
    _progress_ticker=
  fi
}

_progress_ticker_start() {
  _progress_ticker_stop
  [ "$_progress_mode" = live ] && [ -n "$_progress_phase" ] && _progress_in_owner || return 0
  local parent=$_progress_owner
  _progress_draw # now, so that every event shows, however soon the next comes
  (
    trap - EXIT INT TERM
    # A pipe opened read-write that nobody writes: read -t waits a second with
    # no sleep process that a kill would leave behind.
    exec 9<> <(:)
    while :; do
      rc=0
      read -r -t 1 -u 9 _ || rc=$?
      # Anything but a timeout means no way to wait: stop rather than spin.
      [ "$rc" -gt 128 ] && kill -0 "$parent" 2>/dev/null || exit 0
      _progress_draw
    done
  ) &
  _progress_ticker=$!
}

_progress_clear() {
  [ "$_progress_mode" = live ] && printf '\r\033[K' >&2
  return 0
}

progress_phase() {
  [ -n "$_progress_phase" ] && progress_done "done"
  _progress_phase=$1
  _progress_watch=${2:-}
  _progress_watch_sed=${3:-}
  _progress_detail=
  _progress_now
  _progress_phase_t0=$_progress_t
  if [ "$_progress_mode" = live ]; then
    _progress_ticker_start
  else
    printf '%s: %s ...\n' "$_progress_name" "$_progress_phase" >&2
  fi
}

progress_detail() {
  _progress_detail=$1
  if [ "$_progress_mode" = live ]; then
    _progress_ticker_start
  else
    printf '%s: %s: %s\n' "$_progress_name" "${_progress_phase:-...}" "$1" >&2
  fi
}

progress_done() {
  local took result=${1:-done}
  _progress_in_owner && _progress_ticker_stop
  _progress_now
  _progress_fmt took $((_progress_t - _progress_phase_t0))
  _progress_clear
  if [ -n "$_progress_phase" ]; then
    printf '%s: %s: %s (%s)\n' "$_progress_name" "$_progress_phase" "$result" "$took" >&2
  else
    printf '%s: %s\n' "$_progress_name" "$result" >&2
  fi
  _progress_phase=
  _progress_detail=
  _progress_watch=
}

progress_log() {
  [ -n "$*" ] || return 0
  local live=0
  if [ -n "$_progress_ticker" ] && _progress_in_owner; then
    live=1
    _progress_ticker_stop
  fi
  _progress_clear
  printf '%s\n' "$*" >&2
  [ "$live" = 1 ] && _progress_ticker_start
  return 0
}

progress_stop() {
  _progress_in_owner || return 0
  _progress_ticker_stop
  if [ "$_progress_mode" = live ] && [ -n "$_progress_phase" ]; then
    _progress_draw
    printf '\n' >&2
  fi
  _progress_phase=
  return 0
}

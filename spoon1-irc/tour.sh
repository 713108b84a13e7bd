#!/usr/bin/env bash
# Spoon 1's step of `./workshop tour` (which builds first): the bot on a real
# IRC server, ngircd, started here on a free loopback port with a config of
# its own, and a user, alice, typing raw IRC lines at it. Helpers:
# ../tools/tour.sh.
# shellcheck source=tools/tour.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/tour.sh"

find_ngircd() {  # Debian puts it in /usr/sbin, which a user's PATH may lack
  command -v ngircd 2>/dev/null || { [ -x /usr/sbin/ngircd ] && echo /usr/sbin/ngircd; }
}

# start_ngircd NGIRCD PORT: ngircd on 127.0.0.1 PORT, in the background, its
# own log drained (it is not the lesson). Fails when PORT was taken.
start_ngircd() {
  local ngircd="$1" port="$2" fd line pid
  mkdir -p "$scratch/ngircd.d"  # an empty IncludeDir: none of the system's settings
  cat >"$scratch/ngircd.conf" <<CONF
[Global]
  Name = irc.spoon.tour
  Info = the workshop tour's IRC server
  AdminInfo1 = the workshop tour
  AdminInfo2 = loopback only
  AdminEMail = nobody@spoon.tour
  Listen = 127.0.0.1
  Ports = $port
  MotdPhrase = Welcome to the Spoon 1 tour
[Limits]
  MaxNickLength = 30
  IdleTimeout = 60
[Options]
  DNS = no
  Ident = no
  PAM = no
  IncludeDir = $scratch/ngircd.d
CONF
  rm -f "$scratch/ngircd.out"
  mkfifo "$scratch/ngircd.out"
  "$ngircd" -n -f "$scratch/ngircd.conf" >"$scratch/ngircd.out" 2>&1 &  # -n: in the foreground, ours to stop
  pid=$!
  exec {fd}<"$scratch/ngircd.out"
  while IFS= read -r -t 10 line <&"$fd"; do
    if [[ $line == *"Now listening on"* ]]; then
      trap '' INT  # its log is not the lesson: drained, until ngircd ends
      cat <&"$fd" >/dev/null &
      trap - INT
      exec {fd}<&-
      return 0
    fi
  done
  exec {fd}<&-
  wait "$pid" 2>/dev/null || true
  return 1
}

alice_says() {  # alice_says FD LINE: the tour's user types an IRC line into her connection FD
  printf '    %-8s| >> %s\n' alice "$2" >&3
  printf '%s\r\n' "$2" >&"$1"
}

alice_reads_until() {  # alice_reads_until FD TEXT: alice's lines (not the welcome's numerics) up to one holding TEXT
  local line
  while IFS= read -r -t 10 line <&"$1"; do
    line="${line%$'\r'}"
    [[ $line =~ ^:[^\ ]+\ [0-9]{3}\  ]] || printf '    %-8s| << %s\n' alice "$line" >&3
    [[ $line == PING* ]] && printf 'PONG %s\r\n' "${line#PING }" >&"$1"
    [[ $line == *"$2"* ]] && return 0
  done
  die "alice never saw '$2'"
}

say ""
say "==> Spoon 1: the IRC bot (the talk's went to chat.freenode.net; ours defaults to"
say "    irc.libera.chat, and here talks to a local ngircd, so no network is needed)"
if ! ngircd="$(find_ngircd)"; then
  say "  Skipped: ngircd is not installed (Debian: apt-get install ngircd)."
  exit 0
fi
port=""
for _ in 1 2 3 4 5; do  # a random port may be taken: try another
  candidate=$((20000 + RANDOM % 40000))
  if start_ngircd "$ngircd" "$candidate"; then port="$candidate"; break; fi
done
[ -n "$port" ] || die "ngircd did not start (tried 5 ports)"
say "  \$ ngircd -n -f ngircd.conf       (a real IRC server, on 127.0.0.1 port $port)"

say "  \$ spoon1-irc/bot --server 127.0.0.1 --port $port --nick spoonbot --channel '#spoon'"
start bot spoon1-irc/bot --server 127.0.0.1 --port "$port" --nick spoonbot --channel '#spoon' \
  --log "$scratch/irc.log" 3>/dev/null  # its command line is shown above, without the --log
bot_pid=$!
say "  The bot registers (NICK, USER), waits for the welcome (001), then JOINs:"
exec {bot}<"$scratch/bot.out"
show_until bot "$bot" " JOIN :#spoon"
show_the_rest bot "$bot"
bot_reader=$!

say "  A user, alice, connects, joins, and says !hello in the channel, then in private:"
exec {alice}<>"/dev/tcp/127.0.0.1/$port"
alice_says "$alice" "NICK alice"
alice_says "$alice" "USER alice 0 * :Alice"
alice_reads_until "$alice" " 001 alice "
alice_says "$alice" "JOIN #spoon"
alice_reads_until "$alice" " 366 alice "
alice_says "$alice" "PRIVMSG #spoon :!hello"
alice_reads_until "$alice" "Hello, alice!"
alice_says "$alice" "PRIVMSG spoonbot :!hello"
alice_reads_until "$alice" "Hello, alice!"
say "  Ctrl-C stops the bot; it says QUIT before it goes, and alice hears of it:"
kill -INT "$bot_pid"
wait "$bot_pid" "$bot_reader" 2>/dev/null || true
alice_reads_until "$alice" " QUIT "
alice_says "$alice" "QUIT :bye"
exec {alice}>&-
stop_every_program
say "  The bot's log: every PRIVMSG and NOTICE it received, one a line:"
show irc.log <"$scratch/irc.log"

#!/usr/bin/env bash
# Build seeds/ plus the sample articles (tests/fixtures/samples) and two upstream feeds into a
# scratch folder, and judge every feed with the judge harness: the W3C validator (errors and
# warnings) and compare-readers (ten real readers). Set JUDGE_HOME to a set-up copy of the
# harness (default /tmp/judge). Exits 1 when the build fails, when no feed was built, or when a
# feed has an error, a warning or a reader disagreement.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
judge=${JUDGE_HOME:-/tmp/judge}
export JUDGE_HOME=$judge FEEDVALIDATOR_HOME=${FEEDVALIDATOR_HOME:-$judge/feedvalidator}
[ -x "$judge/w3c-validate" ] || { echo "no judge at $judge (copy ../shared/judge there and run its setup.sh)"; exit 2; }
work=$(mktemp -d)
mkdir -p "$work/seeds"
cp -p "$root"/seeds/*.txt "$root"/tests/fixtures/samples/*.txt "$work/seeds/"
# Upstream feeds of two outlets (tests/fixtures/upstream), served on loopback and pulled.
port=$("$root/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$root/.venv/bin/python" -m http.server "$port" --bind 127.0.0.1 --directory "$root/tests/fixtures/upstream" >/dev/null 2>&1 &
# Feeds as real sites write them: a podcast whose episodes share one link, a daily page with
# one anchor per post, items without a usable link, a plain-text title with markup
# characters, and a story two sources share.
server=$!
trap 'kill $server 2>/dev/null' EXIT
sleep 1
mkdir -p "$work/config"
sed -e 's/^allow_private_networks = false/allow_private_networks = true/' "$root/config/feeds.toml" > "$work/config/feeds.toml"
cat >> "$work/config/feeds.toml" <<TOML
[[upstream]]
name = "antara-terkini"
outlet = "Antara"
url = "http://127.0.0.1:$port/antara.xml"
section = "nasional"
every = "30m"

[[upstream]]
name = "tempo-nasional"
outlet = "Tempo.co"
url = "http://127.0.0.1:$port/tempo.xml"
section = "nasional"
every = "30m"
content = "full"

[[upstream]]
name = "siniar"
outlet = "Siniar Kampus"
url = "http://127.0.0.1:$port/real/podcast.xml"
section = "kampus"

[[upstream]]
name = "catatan"
outlet = "Catatan Harian"
url = "http://127.0.0.1:$port/real/daily-blog.xml"
section = "kampus"

[[upstream]]
name = "kabar-pantura"
outlet = "Kabar Pantura"
url = "http://127.0.0.1:$port/real/mixed.xml"
section = "nasional"
TOML
sed -i 's/^items_per_feed = 50/items_per_feed = 200/' "$work/config/feeds.toml"
"$root/.venv/bin/feeds" build --pull -c "$work/config/feeds.toml" --seeds "$work/seeds" --output "$work/out" --state "$work/state.sqlite" >/dev/null \
  || { echo "feeds build failed: nothing to judge"; exit 1; }
feeds=$(cd "$work/out" && find . -name '*.xml' ! -name '*.opml' | sort)
[ -n "$feeds" ] || { echo "no feed was built"; exit 1; }
status=0
for feed in $feeds; do
  summary=$("$judge/w3c-validate" "$work/out/$feed" 2>&1 >/dev/null | tail -n 1)
  report=$("$judge/compare-readers" "$work/out/$feed" 2>/dev/null)
  readers=$(printf '%s\n' "$report" | grep -c '^# \(diff\|missing\)')
  # One known reader quirk is not ours: feed-extractor drops a link's #fragment (a daily
  # page's per-post anchors). Every other disagreement fails the run.
  real=$(printf '%s\n' "$report" | grep '^# \(diff\|missing\)' | "$root/.venv/bin/python" -c '
import sys
for line in sys.stdin:
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 4 and parts[2] == "link":
        seen = [v.split(" <= ") for v in parts[3].split(" | ")]
        if len(seen) == 2 and seen[1][1] == "feed-extractor" and "#" in seen[0][0] \
                and seen[0][0].split("#")[0] == seen[1][0]:
            continue
    print(line, end="")' | grep -c .)
  [ "$real" -eq 0 ] || status=1
  case "$summary" in *"0 error(s), 0 warning(s)"*) ;; *) status=1 ;; esac
  printf '%s\t%s\treader disagreements: %s (%s besides feed-extractor dropping #fragments)\n' \
    "$feed" "${summary##*: }" "$readers" "$real"
done
echo "output judged: $work/out"
exit $status

#!/usr/bin/env bash
# Acceptance walk of "audiences and campaigns" at full scale, through a running server's REST
# API with curl and jq only, the way docs/audiences.md's examples do: it creates a fresh
# tenant, imports a generated CSV of ROWS contacts (2 % of them malformed), checks the import's
# report, saves a segment of the `spring` contacts, sets a sender pool, launches a marketing
# campaign to the segment at RATE contacts a second, pauses it at ~20 % and checks that it
# holds, resumes, and waits until every contact of the segment was reached and texted.
#
#   API=http://127.0.0.1:8080 OPERATOR_KEY=… scripts/walk-campaign.sh
#   API=… OPERATOR_KEY=… ROWS=5000 RATE=200 scripts/walk-campaign.sh     # a quick run
#
# Inputs: API, OPERATOR_KEY (required); ROWS (default 100000), RATE (default 500),
# TIMEOUT (seconds the campaign may take, default 1800).
# Prints progress, then one summary line; exits non-zero with a message on any failed check.
set -euo pipefail

API=${API:?the server base URL, e.g. http://127.0.0.1:8080}
OPERATOR_KEY=${OPERATOR_KEY:?the operator key (STEPWISE_OPERATOR_KEY of the server)}
ROWS=${ROWS:-100000}
RATE=${RATE:-500}
TIMEOUT=${TIMEOUT:-1800}
[[ $ROWS =~ ^[0-9]+$ && $ROWS -ge 100 ]] || { echo "ROWS: a whole number, at least 100" >&2; exit 2; }
[[ $RATE =~ ^[0-9]+$ && $RATE -ge 1 ]] || { echo "RATE: a whole number above 0" >&2; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
KEY=

die() { echo "walk: FAILED: $*" >&2; exit 1; }
now() { echo "$EPOCHREALTIME"; }
calc() { awk "BEGIN { printf \"%.1f\", $* }"; }

# api METHOD PATH [curl args…]: prints the answer's body; dies on a non-2xx answer, showing it.
# (Call it as `x=$(api …)` or in a pipeline, never in `local x=$(…)`, so that set -e sees it.)
api() {
  local method=$1 path=$2 code
  shift 2
  code=$(curl -sS -o "$WORK/body" -w '%{http_code}' -X "$method" \
    -H "Authorization: Bearer $KEY" "$@" "$API$path") || die "$method $path: curl failed"
  [[ $code == 2?? ]] || die "$method $path answered $code: $(head -c 600 "$WORK/body")"
  cat "$WORK/body"
}

create_tenant() {
  local id body
  id="walk-$(date +%Y%m%d%H%M%S)-$$"
  body=$(KEY=$OPERATOR_KEY api POST /v1/tenants -H 'Content-Type: application/json' \
    -d "{\"id\": \"$id\", \"name\": \"Walk $id\", \"timezone\": \"America/Chicago\"}")
  KEY=$(jq -r .admin_key.key <<<"$body")
  [[ $KEY == swk_* ]] || die "no admin key in the answer: $body"
  echo "tenant $id created"
}

# Rows: every 50th names no one (a bad phone, no email: exactly one report line each); the
# others are tagged vip, every other one also spring, with distinct valid US numbers (+1, an
# area code, then 7 digits from 2000000 up, so the exchange starts with 2).
generate_csv() {
  awk -v rows="$ROWS" -v side="$WORK/expected" 'BEGIN {
    split("512 737 210", area, " ")
    split("Ana Ben Cal Dee Eva Fay Gus Hal Ida Jon", first, " ")
    split("Diaz Ng Ortiz Park Reyes Shaw Tran Vega Wong Young", last, " ")
    print "First Name,Last Name,Mobile,E-mail,Tags"
    for (i = 1; i <= rows; i++) {
      if (i % 50 == 0) { print "Bad,Row,not-a-phone,,vip"; bad++; continue }
      g = good++
      n7 = 2000000 + int(g / 3)
      spring += g % 2
      printf "%s,%s,+1 %s %03d %04d,walk%d@example.com,%s\n", first[g % 10 + 1],
        last[int(g / 10) % 10 + 1], area[g % 3 + 1], int(n7 / 10000), n7 % 10000, i,
        (g % 2 ? "vip;spring" : "vip")
    }
    print good, bad, spring > side
  }' >"$WORK/contacts.csv"
  read -r GOOD BAD SPRING <"$WORK/expected"
  echo "generated $ROWS rows ($GOOD good, $BAD malformed, $SPRING tagged spring)"
}

import_csv() {
  local t0 id status view
  t0=$(now)
  view=$(api POST /v1/imports -H 'Content-Type: text/csv' --data-binary @"$WORK/contacts.csv")
  id=$(jq -r .id <<<"$view")
  while :; do
    view=$(api GET "/v1/imports/$id")
    status=$(jq -r .status <<<"$view")
    echo "import $status $(jq -c .counts <<<"$view")"
    [[ $status == completed || $status == failed ]] && break
    sleep 2
  done
  IMPORT_SECONDS=$(calc "$(now) - $t0")
  [[ $status == completed ]] || die "import $id failed: $(jq -r .error <<<"$view")"
  echo "import took ${IMPORT_SECONDS}s"
  jq -e --argjson good "$GOOD" --argjson bad "$BAD" \
    '.counts.created == $good and .counts.failed == $bad and .counts.skipped == 0' \
    <<<"$view" >/dev/null || die "import counts $(jq -c .counts <<<"$view"), expected created=$GOOD failed=$BAD skipped=0"
  api GET "/v1/imports/$id/report.csv" >"$WORK/report.csv"
  # One line per bad cell; the report keeps its first 10,000 rows.
  local expected=$((BAD < 10000 ? BAD : 10000))
  REPORT_LINES=$(($(wc -l <"$WORK/report.csv") - 1))
  [[ $REPORT_LINES -eq $expected ]] ||
    die "report.csv has $REPORT_LINES data lines, expected $expected; its start: $(head -n 4 "$WORK/report.csv")"
  echo "report.csv: $REPORT_LINES lines, e.g. $(sed -n 2p "$WORK/report.csv")"
}

save_segment() {
  local view
  view=$(api PUT /v1/segments/walk-spring -H 'Content-Type: application/json' \
    -d '{"description": "walk: contacts tagged spring", "filter": {"tags_all": ["spring"]}}')
  SEGMENT=$(jq -r .count <<<"$view")
  echo "segment walk-spring: $SEGMENT contacts (live: $(api GET /v1/segments/walk-spring | jq -r .count))"
  [[ $SEGMENT -eq $SPRING ]] || die "segment walk-spring counts $SEGMENT, expected $SPRING"
}

# Campaigns plan on 90 % of each number's rate: three short codes at PS a second carry
# 3 × 0.9 × PS. A campaign asks for at most 1000 a second, and so may a number.
configure() {
  local ps
  if ((RATE > 1000)); then echo "RATE $RATE is above a campaign's maximum: lowered to 1000"; RATE=1000; fi
  ps=$((RATE * 10 / 27 + 1))
  ((ps <= 1000)) || ps=1000
  if ((ps * 27 / 10 < RATE)); then RATE=$((ps * 27 / 10)); echo "3 numbers cannot carry it: RATE lowered to $RATE"; fi
  # Quiet hours that start and end at the same time are never quiet: every contact (in the
  # tenant's zone, having none of its own) is sent now, whatever the time of day.
  api PATCH /v1/settings -H 'Content-Type: application/json' -d "{
      \"quiet_hours\": {\"start\": \"00:00\", \"end\": \"00:00\"},
      \"sender_pools\": {\"walk\": [
        {\"number\": \"+15125550301\", \"kind\": \"short_code\", \"per_second\": $ps},
        {\"number\": \"+17375550302\", \"kind\": \"short_code\", \"per_second\": $ps},
        {\"number\": \"+12105550303\", \"kind\": \"short_code\", \"per_second\": $ps}]}}" |
    jq -c '{quiet_hours, pool: [.sender_pools.walk[].per_second]}'
  api POST /v1/flows -H 'Content-Type: application/yaml' --data-binary @- >/dev/null <<'YAML'
id: walk-offer
trigger: {manual: true}
purpose: marketing
steps:
  - id: offer
    send_sms: {body: 'Walk offer for you, {{contact.first_name}}! Reply STOP to opt out.'}
YAML
}

campaign() { api GET "/v1/campaigns/$CAMPAIGN"; }
enrolled() { campaign | jq -r .campaign.counts.enrolled; }

launch() {
  CAMPAIGN=$(api POST /v1/campaigns -H 'Content-Type: application/json' -d "{\"name\": \"Walk\",
    \"flow_id\": \"walk-offer\", \"audience\": {\"segment\": \"walk-spring\"},
    \"per_second\": $RATE, \"pool\": \"walk\"}" | jq -r .id)
  LAUNCHED=$(now)
  api POST "/v1/campaigns/$CAMPAIGN/launch" | jq -c '{id, status, per_second, pool}'
}

# Pause at ~20 %: a dispatcher turn under way (at most a second's contacts) may still end, so
# read 2 s after the pause, then 3 s later, and the two must agree.
pause_and_resume() {
  local e1 e2 status paused_at
  while :; do
    e1=$(enrolled)
    ((e1 * 5 >= SEGMENT)) && break
    status=$(campaign | jq -r .campaign.status)
    [[ $status == running || $status == scheduled ]] || die "campaign is $status at $e1 enrolled, before 20 %"
    sleep 0.2
  done
  paused_at=$(now)
  api POST "/v1/campaigns/$CAMPAIGN/pause" | jq -r '"\(.status) at \(.counts.enrolled) enrolled"'
  sleep 2
  e1=$(enrolled)
  sleep 3
  e2=$(enrolled)
  echo "paused: enrolled $e1, 3 s later $e2"
  [[ $e1 -eq $e2 ]] || die "enrolled grew from $e1 to $e2 while the campaign was paused"
  api POST "/v1/campaigns/$CAMPAIGN/resume" | jq -r '"resumed: \(.status)"'
  PAUSED=$(calc "$(now) - $paused_at")
}

# Done when every contact of the segment was decided (enrolled, suppressed, held or not
# started), no run waits, and every enrolled run sent its text.
wait_for_done() {
  local view deadline=$((SECONDS + TIMEOUT)) finished
  while :; do
    view=$(campaign)
    jq -r '"\(.campaign.status) \(.campaign.counts | tojson) messages \(.messages | tojson)"' <<<"$view"
    jq -e --argjson n "$SEGMENT" '.campaign.counts as $c | .messages as $m
      | $c.enrolled + $c.suppressed + $c.held + $c.not_started == $n
        and $m.waiting == 0 and $m.sent == $c.enrolled' <<<"$view" >/dev/null && break
    ((SECONDS < deadline)) || die "campaign not done after ${TIMEOUT}s: $(jq -c . <<<"$view")"
    sleep 5
  done
  ENROLLED=$(jq -r .campaign.counts.enrolled <<<"$view")
  # The dispatcher's own end (finished_at, set when its pass reached the last contact) times the
  # pacing; without one (held contacts), this poll's time.
  finished=$(jq -r '.campaign.finished_at // empty' <<<"$view")
  if [[ -n $finished ]]; then finished=$(date -d "$finished" +%s.%N); else finished=$(now); fi
  CAMPAIGN_SECONDS=$(calc "$finished - $LAUNCHED - $PAUSED")
  ACHIEVED=$(calc "$ENROLLED / $CAMPAIGN_SECONDS")
  echo "campaign: $ENROLLED enrolled in ${CAMPAIGN_SECONDS}s of running (${PAUSED}s paused left out):" \
    "$ACHIEVED contacts/s against $RATE ($(calc "100 * $ACHIEVED / $RATE") %)"
}

create_tenant
generate_csv
import_csv
save_segment
configure
launch
pause_and_resume
wait_for_done
echo "walk OK: rows=$ROWS import_s=$IMPORT_SECONDS report_lines=$REPORT_LINES segment=$SEGMENT" \
  "campaign_s=$CAMPAIGN_SECONDS achieved=$ACHIEVED/s rate=$RATE"

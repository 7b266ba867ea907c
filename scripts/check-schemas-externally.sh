#!/usr/bin/env bash
# Proves that the committed JSON Schemas (schemas/*.schema.json) hold up outside our Rust code,
# using two independent, widely used tools and none of our own validation:
#
#  1. check-jsonschema (PyPI; Python `jsonschema`):
#     - every schemas/*.schema.json is a valid schema under its own metaschema (draft 2020-12);
#     - every flow in docs/examples/*.yaml is ACCEPTED by schemas/flow.schema.json;
#     - every file in tests/fixtures/schema-rejects/*.yaml is REJECTED by it with a schema
#       error (not merely a YAML parse error): an unknown top-level key, a misspelt step kind,
#       an unknown field inside a step.
#  2. yaml-language-server (npm; what the VS Code YAML extension and most editors run), driven over
#     stdio LSP by scripts/lsp-completion.mjs with the schema associated through `yaml.schemas`:
#     - completion at an empty key in a step item offers send_sms, wait_for and if;
#     - completion inside `send_sms:` offers body and to;
#     - a `send_smss:` step gets a diagnostic on its line; the correct spelling gets none;
#     - and the server throws no error while computing those completions.
#
# Tools are installed on first use, and reused after, under
#   ${STEPWISE_TOOLS:-$HOME/.cache/stepwise/tools}/venv   (check-jsonschema)
#   ${STEPWISE_TOOLS:-$HOME/.cache/stepwise/tools}/node   (yaml-language-server, npm --prefix)
# Needs python3 (with venv) and node >= 20 with npm. Does not touch cargo.
# Prints one line per check and a closing "N passed, N failed"; exits non-zero if any check fails
# (2 if a tool cannot be installed). Every tool run has a time limit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TOOLS=${STEPWISE_TOOLS:-$HOME/.cache/stepwise/tools}
VENV=$TOOLS/venv
NODE_PREFIX=$TOOLS/node
# Pinned so that a run is reproducible. yaml-language-server 2.x needs node >= 22.13; 1.25.0 runs on 20.
CHECK_JSONSCHEMA_VERSION=0.39.0
YAML_LS_VERSION=1.25.0
INSTALL_TIMEOUT=${STEPWISE_INSTALL_TIMEOUT:-180} # seconds, per install step (a cold download)
RUN_TIMEOUT=60                                   # seconds, per tool run

FLOW_SCHEMA=schemas/flow.schema.json
REJECTS_DIR=tests/fixtures/schema-rejects

passed=0
failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
die() { echo "error: $*" >&2; exit 2; }

# --- tools -------------------------------------------------------------------------------------

install_check_jsonschema() {
  local have=""
  if [[ -x $VENV/bin/check-jsonschema ]]; then
    have=$(timeout "$RUN_TIMEOUT" "$VENV/bin/check-jsonschema" --version 2>/dev/null | awk '{print $NF}') || have=""
  fi
  if [[ $have == "$CHECK_JSONSCHEMA_VERSION" ]]; then
    echo "tools: check-jsonschema $have (reused, $VENV)"
    return
  fi
  echo "tools: installing check-jsonschema==$CHECK_JSONSCHEMA_VERSION from PyPI into $VENV"
  mkdir -p "$TOOLS"
  [[ -x $VENV/bin/python ]] || timeout "$INSTALL_TIMEOUT" python3 -m venv "$VENV" ||
    die "python3 -m venv $VENV failed (is python3-venv installed?)"
  timeout "$INSTALL_TIMEOUT" "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --timeout 30 "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" ||
    die "pip could not install check-jsonschema==$CHECK_JSONSCHEMA_VERSION from PyPI"
  echo "tools: check-jsonschema $("$VENV/bin/check-jsonschema" --version | awk '{print $NF}') installed"
}

yaml_ls_dir=$NODE_PREFIX/node_modules/yaml-language-server
install_yaml_language_server() {
  local have=""
  if [[ -f $yaml_ls_dir/package.json ]]; then
    have=$(node -p "require(process.argv[1]).version" "$yaml_ls_dir/package.json" 2>/dev/null) || have=""
  fi
  if [[ $have == "$YAML_LS_VERSION" ]]; then
    echo "tools: yaml-language-server $have (reused, $NODE_PREFIX)"
    return
  fi
  echo "tools: installing yaml-language-server@$YAML_LS_VERSION from the npm registry into $NODE_PREFIX"
  mkdir -p "$NODE_PREFIX"
  timeout "$INSTALL_TIMEOUT" npm install --prefix "$NODE_PREFIX" --no-fund --no-audit --loglevel=error \
    "yaml-language-server@$YAML_LS_VERSION" ||
    die "npm could not install yaml-language-server@$YAML_LS_VERSION"
  echo "tools: yaml-language-server $(node -p "require(process.argv[1]).version" "$yaml_ls_dir/package.json") installed"
}

command -v python3 >/dev/null || die "python3 not found"
command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"
install_check_jsonschema
install_yaml_language_server

# --- 1. check-jsonschema -----------------------------------------------------------------------

# Summarises check-jsonschema's JSON report as "valid", "rejected: <first error>" or "unusable: <why>".
summarise() {
  "$VENV/bin/python" -c '
import json, sys
try:
    report = json.loads(sys.stdin.read())
except ValueError:
    print("unusable: check-jsonschema printed no JSON report"); sys.exit()
if report.get("parse_errors"):
    print("unusable: " + report["parse_errors"][0]["message"])
elif report.get("status") == "ok":
    print("valid")
elif report.get("errors"):
    e = report["errors"][0]
    more = len(report["errors"]) - 1
    print("rejected: %s: %s%s" % (e["path"], e["message"], " (+%d more)" % more if more else ""))
else:
    print("unusable: " + json.dumps(report))
'
}

# check_flow FILE EXPECTATION(valid|rejected)
check_flow() {
  local file=$1 want=$2 out verdict
  out=$(timeout "$RUN_TIMEOUT" "$VENV/bin/check-jsonschema" --output-format json \
    --schemafile "$FLOW_SCHEMA" "$file" 2>&1) || true
  verdict=$(summarise <<<"$out")
  if [[ $verdict == "$want" || $verdict == "$want:"* ]]; then
    ok "check-jsonschema $file: $verdict (expected $want)"
  else
    bad "check-jsonschema $file: $verdict (expected $want)"
  fi
}

shopt -s nullglob
schemas=(schemas/*.schema.json)
examples=(docs/examples/*.yaml)
rejects=("$REJECTS_DIR"/*.yaml)
shopt -u nullglob
((${#schemas[@]})) || die "no schemas/*.schema.json"
((${#examples[@]})) || die "no docs/examples/*.yaml"
((${#rejects[@]})) || die "no $REJECTS_DIR/*.yaml"

for schema in "${schemas[@]}"; do
  if out=$(timeout "$RUN_TIMEOUT" "$VENV/bin/check-jsonschema" --check-metaschema "$schema" 2>&1); then
    ok "check-jsonschema --check-metaschema $schema: a valid schema"
  else
    bad "check-jsonschema --check-metaschema $schema: $out"
  fi
done
for file in "${examples[@]}"; do check_flow "$file" valid; done
for file in "${rejects[@]}"; do check_flow "$file" rejected; done
echo "check-jsonschema: ${#examples[@]} example(s) checked to pass, ${#rejects[@]} fixture(s) checked to fail, ${#schemas[@]} schema(s) against their metaschema"

# --- 2. yaml-language-server -------------------------------------------------------------------

if timeout "$RUN_TIMEOUT" node scripts/lsp-completion.mjs \
  "$yaml_ls_dir/bin/yaml-language-server" "$ROOT/$FLOW_SCHEMA"; then
  ok "yaml-language-server: completion and diagnostics from $FLOW_SCHEMA"
else
  rc=$?
  if ((rc == 124)); then
    bad "yaml-language-server: killed after ${RUN_TIMEOUT}s"
  else
    bad "yaml-language-server: the checks above failed (exit $rc)"
  fi
fi

echo "check-schemas-externally: $passed passed, $failed failed"
((failed == 0))

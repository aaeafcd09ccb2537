# The kata's commands. `make` alone lists them; the work is done by the
# kata command in harness/cmd/kata.

GO   ?= go
# The kata command, built into .kata/ (the build is cached, so this is quick)
# and run from there, which keeps go run's "exit status" lines out of the way.
# Each target builds it, then runs it, in two simple lines rather than one
# with &&: make runs a simple line itself, without a shell in between that
# Ctrl-C would kill before the command has said its last word.
exe        := $(if $(filter Windows_NT,$(OS)),.exe)
KATA       := .kata/bin/kata$(exe)
# In CI (CI=true), the kata command is built with -race, as every test
# binary of make test is: a fresh machine then compiles net/http and the
# rest of the standard library it needs once, not twice (about 40 s of CI's
# 6 minutes), and the runner's own goroutines are raced for free.
build-kata := @$(GO) build $(if $(filter true 1,$(CI)),-race) -o $(KATA) ./harness/cmd/kata

# Parameters, each given as NAME=value on the command line.
STEP     ?=
SOLUTION ?=
VERBOSE  ?=
LEVEL    ?=
WRONG    ?=
WORKERS  ?=
SCALE    ?=
ADDR     ?= 127.0.0.1:8080
N        ?= 10
URL      ?= ws://127.0.0.1:8080/ocpp
MODE     ?= lockstep
HOLD     ?=
MESSAGES ?=
TIMEOUT  ?=
RECONNECT ?=
NODES    ?= 3
NATS_ADDR ?=
FORCE    ?=
FUZZTIME ?= 30s
PHASE    ?=
BENCH    ?=
AUTH_KEYS ?=
TLS_CERT ?=
TLS_KEY ?=
TLS_CLIENT_CA ?=
CA       ?=
CERTS    ?=
# KEY is the password every simulated station sends. It is taken from the
# command line only: a KEY in the environment, set for something else,
# must not turn into a password the stations send.
station-key := $(if $(filter command line,$(origin KEY)),$(KEY))

# SOLUTION=1 (or yes, true) picks the reference solution.
solution := $(if $(filter 1 yes true,$(SOLUTION)),-solution)

# need-step stops a command that needs STEP, with an example.
need-step = $(if $(STEP),,$(error make $(1) needs a step, for example: make $(1) STEP=1))

.DEFAULT_GOAL := help
.PHONY: help demo check watch test progress hint diff reset serve cluster certs stations edge interop bench fuzz carry lint

help:
	@echo 'The kata: build an OCPP 1.6-J central system, one concurrency lesson at a time.'
	@echo
	@echo '  make demo     [STEP=1] [WORKERS=10]     watch a step'"'"'s starter, then its solution, at work'
	@echo '  make check    STEP=N [SOLUTION=1] [VERBOSE=1]'
	@echo '                                          run step N'"'"'s suite against your code (or the solution)'
	@echo '  make check    STEP=N WRONG=NAME         watch the suite catch one of step N'"'"'s wrong turns'
	@echo '  make watch    STEP=N                    check step N again each time you save one of its files'
	@echo '  make hint     STEP=N [LEVEL=L]          the next hint for step N: nudge, direction, near-solution'
	@echo '  make diff     STEP=N                    your code against the reference solution'
	@echo '  make progress                           where your code stands on every step'
	@echo '  make reset    STEP=N [FORCE=1]          put step N'"'"'s starter back as the kata ships it (asks first)'
	@echo '  make serve    [STEP=N] [SOLUTION=1]     run a server on ws://$(ADDR)/ocpp/{stationId}'
	@echo '                [ADDR=$(ADDR)] [WORKERS=W] [SCALE=1]  (default: the last step'"'"'s solution)'
	@echo '                [AUTH_KEYS=FILE]          stations must log in: FILE has a line identity:password for each (step 09 on)'
	@echo '                [TLS_CERT=FILE] [TLS_KEY=FILE]  serve wss:// and https:// (OCPP security profile 2 with AUTH_KEYS)'
	@echo '                [TLS_CLIENT_CA=FILE]      profile 3: each station presents a certificate of that CA whose CN is its id'
	@echo '                [DB=FILE|memory] [ID_TAGS=FILE] [HEARTBEAT=S] [MAX_FRAME=B] [API_TOKEN=T] [REGISTRATION=R] [LOG=json] [LOG_LEVEL=debug] [PPROF=1]'
	@echo '                                          the store, the idTags, the answers: see the README'"'"'s "The final server"'
	@echo '                [NATS_URL=nats://HOST:4222] [NODE=NAME]  one node of a cluster: the nodes share NATS and the store (step 10)'
	@echo '                                          the live view (/), the operator API (/api/stations) and the metrics (/metrics) share the port'
	@echo '  make cluster  [NODES=3] [ADDR=$(ADDR)] [NATS_ADDR=127.0.0.1:4222] [DB=FILE|postgres://…] [any make serve setting]'
	@echo '                                          the final server as NODES nodes on this machine, over a NATS server of their own,'
	@echo '                                          sharing one store; node k listens on ADDR'"'"'s port + k-1; Ctrl-C stops all'
	@echo '  make certs    [DIR=certs] [HOSTS=127.0.0.1,localhost] [STATIONS=10 | STATIONS=CS0001,…]'
	@echo '                                          a workshop'"'"'s TLS: a CA, the server'"'"'s certificate, a client certificate per station'
	@echo '  make stations [N=10] [URL=$(URL)[,…]] [MODE=lockstep]'
	@echo '                [MESSAGES=100] [HOLD=D] [RECONNECT=1] [TIMEOUT=5m]  run N simulated stations against a server; Ctrl-C ends the run'
	@echo '                [AUTH_KEYS=FILE | KEY=secret]  each station sends its key from FILE, or every station sends KEY'
	@echo '                [CA=FILE] [CERTS=DIR]     wss://: trust the CA in FILE; present DIR/{id}.pem, DIR/{id}-key.pem (profile 3)'
	@echo '                                          MODE lockstep: each station runs the 14-call charging session'
	@echo '                                               pipelined: 100 MeterValues each, sent without waiting'
	@echo '                                               flood: station 1 sends MESSAGES meter values (100) as fast as it can, the others run sessions'
	@echo '                                               deaf: station 1 sends MESSAGES calls of a 16,000-character unknown action and never reads,'
	@echo '                                                     reconnecting when the server closes it, until the others'"'"' sessions are done'
	@echo '                                               idle: connect, boot, stay HOLD long (20s, 2m) or until Ctrl-C,'
	@echo '                                                     acting on the server'"'"'s calls: RemoteStart charges, Reset reboots, …'
	@echo '                                                     RECONNECT=1: connect again whenever their connection ends (a restart),'
	@echo '                                                     to the next URL of the list (a server killed), after a short random wait'
	@echo '                                          URL=a,b,c: station 1 on a, 2 on b, 3 on c, 4 on a, …'
	@echo '                                          TIMEOUT: the time limit of the whole run'
	@echo '  make edge     [URL=$(URL)] [KEY=K [STATION=ID] | AUTH_KEYS=FILE] [CA=FILE]'
	@echo '                                          attack a running server'"'"'s edge as hostile chargers do: per case, what'
	@echo '                                          it answered and whether OCPP-J 1.6 expects that (KEY, AUTH_KEYS: and Basic auth)'
	@echo '  make interop  [URL=$(URL)] [KEY=K]      a charge point nobody here wrote (ocpp-rpc, strict about the OCPP 1.6 schemas)'
	@echo '                [API_TOKEN=T] [CA=FILE]   against a running server: every message, every operator call, 50 at once (needs Node.js)'
	@echo '  make test     [STEP=N]                  prove the kata itself is sound (what CI runs); STEP=N: one step'"'"'s contract only'
	@echo '  make carry    STEP=N                    carry a fix in step N'"'"'s solution into the steps after it (MAINTAINING.md)'
	@echo '  make lint                               staticcheck over the module (pinned in go.mod; not in make test: see MAINTAINING.md)'
	@echo '  make fuzz     [FUZZTIME=30s]            fuzz the OCPP codec: each of harness/ocpp'"'"'s fuzz targets, FUZZTIME each'
	@echo '  make bench    [PHASE=name] [BENCH=flags] the final server against a bare WebSocket responder and step 01'"'"'s'
	@echo '                                          starter: calls/s, latency, the store, memory and threads; table in .kata/bench.txt'
	@echo '                                          PHASE: throughput, session, idle, before, crash, storm or cluster (default: all, about 4 minutes)'
	@echo
	@echo 'Start here: make demo, then read exercises/01-workers/README.md.'

demo:
	$(build-kata)
	@$(KATA) demo -step $(or $(STEP),1) $(if $(WORKERS),-workers $(WORKERS))

# first-build says so when the kata command is not built yet: on a fresh
# clone, building it and then the suites takes a minute or more.
first-build = @[ -x $(KATA) ] || echo 'building the kata command first (on a fresh clone this takes a minute or more)…'

# make .kata/bin/kata builds the kata command alone, as every target does
# first: .ci/run times it as a phase of its own.
$(KATA): FORCE
	$(build-kata)
FORCE:

check:
	$(call need-step,check)
	$(first-build)
	$(build-kata)
	@$(KATA) check -step $(STEP) $(solution) $(if $(WRONG),-wrong $(WRONG)) $(if $(filter 1 yes true,$(VERBOSE)),-v)

watch:
	$(call need-step,watch)
	$(first-build)
	$(build-kata)
	@$(KATA) watch -step $(STEP)

test:
	$(build-kata)
	@$(KATA) test $(if $(STEP),-step $(STEP))

progress:
	$(build-kata)
	@$(KATA) progress

hint:
	$(call need-step,hint)
	$(build-kata)
	@$(KATA) hint -step $(STEP) $(if $(LEVEL),-level $(LEVEL))

diff:
	$(call need-step,diff)
	$(build-kata)
	@$(KATA) diff -step $(STEP)

reset:
	$(call need-step,reset)
	$(build-kata)
	@$(KATA) reset -step $(STEP) $(if $(filter 1 yes true,$(FORCE)),-force)

fuzz:
	$(build-kata)
	@$(KATA) fuzz -fuzztime $(FUZZTIME)

# staticcheck, at the version go.mod's tool directive pins. It is not part
# of make test: on a fresh machine it builds itself and loads the module
# for about 100 CPU-seconds, and CI's budget has no room for them.
lint:
	@$(GO) tool staticcheck ./...

carry:
	$(call need-step,carry)
	$(build-kata)
	@$(KATA) carry -step $(STEP)

# make serve's settings, each passed on as -set NAME=value when it is set.
# What each does, its flag and its environment variable are declared once,
# in harness/internal/settings; a test of make test keeps this list to it.
# API_TOKEN is not here: make hands it over in the environment, never on a
# command line that ps shows.
serve-settings := ADDR WORKERS SCALE AUTH_KEYS TLS_CERT TLS_KEY TLS_CLIENT_CA DB ID_TAGS HEARTBEAT MAX_FRAME NATS_URL NODE REGISTRATION LOG LOG_LEVEL PPROF
comma := ,
# quote puts a value in single quotes for the shell, whatever it holds.
quote = '$(subst ','\'',$(1))'

serve:
	$(build-kata)
	@$(KATA) serve $(if $(STEP),-step $(STEP)) $(solution) $(foreach v,$(serve-settings),$(if $($(v)),$(call quote,-set=$(v)=$($(v)))))

# make cluster: the final server as NODES nodes over an embedded NATS, each
# node a make serve of its own with the same settings (ADDR is the first
# node's). Its DB defaults to .kata/cluster.db, which every node shares.
cluster:
	$(build-kata)
	@$(KATA) cluster -nodes $(NODES) $(if $(NATS_ADDR),-nats $(NATS_ADDR)) $(foreach v,$(serve-settings),$(if $($(v)),$(call quote,-set=$(v)=$($(v)))))

# The simulator, built into .kata/ like the kata command, so that its own
# exit status and messages are all that shows. Two simple lines rather than
# one with &&: make runs a simple line itself, without a shell in between
# that Ctrl-C or SIGTERM would kill before the simulator has printed its
# summary.
# (stations-bin, not STATIONS: make certs takes STATIONS= on its command line.)
stations-bin := .kata/bin/stations$(exe)

stations:
	@$(GO) build -o $(stations-bin) ./stations
	@$(stations-bin) -n $(N) -url $(URL) -mode $(MODE) $(if $(MESSAGES),-messages $(MESSAGES)) $(if $(HOLD),-hold $(HOLD)) $(if $(filter 1 yes true,$(RECONNECT)),-reconnect) $(if $(TIMEOUT),-timeout $(TIMEOUT)) $(if $(AUTH_KEYS),-auth-keys $(AUTH_KEYS)) $(if $(station-key),-key $(station-key)) $(if $(CA),-ca $(CA)) $(if $(CERTS),-certs $(CERTS))

# make certs, built into .kata/ like the simulator. DIR, HOSTS and
# STATIONS are taken from the command line only: names this common may be
# in the environment for something else.
certs-bin := .kata/bin/certs$(exe)
from-command-line = $(if $(filter command line,$(origin $(1))),$($(1)),$(2))

certs:
	@$(GO) build -o $(certs-bin) ./harness/cmd/certs
	@$(certs-bin) -dir $(call from-command-line,DIR,certs) -hosts $(call from-command-line,HOSTS,127.0.0.1$(comma)localhost) -stations $(call from-command-line,STATIONS,10)

# The edge check, built into .kata/ like the simulator.
EDGE := .kata/bin/edgecheck$(exe)

edge:
	@$(GO) build -o $(EDGE) ./stations/edgecheck
	@$(EDGE) -url $(URL) $(if $(station-key),-key $(station-key)) $(if $(STATION),-station $(STATION)) $(if $(AUTH_KEYS),-auth-keys $(AUTH_KEYS)) $(if $(CA),-ca $(CA))

# The interoperability check: Node.js runs interop/check.mjs, whose one
# module (ocpp-rpc, pinned in interop/package-lock.json) npm installs on
# first use. KEY needs an AUTH_KEYS file on the server with a line
# INTEROP-CP:K, and INTEROP-001 to INTEROP-050 with the same K.
interop:
	@command -v node >/dev/null || { echo 'make interop needs Node.js 18 or later (node on the PATH): https://nodejs.org, or apt-get install nodejs npm' >&2; exit 1; }
	@[ -d interop/node_modules/ocpp-rpc ] || { echo 'installing the check'"'"'s module, ocpp-rpc (npm ci --prefix interop)…' && npm ci --prefix interop --no-audit --no-fund --loglevel=error; }
	@$(if $(CA),NODE_EXTRA_CA_CERTS=$(CA)) node interop/check.mjs --url $(URL) $(if $(station-key),--key $(station-key))

# The benchmark: the final server in a process of its own, the kata's
# load generator in the kata command, a bare WebSocket responder (the
# ceiling) in a third. PHASE picks phases; BENCH passes the bench's flags,
# such as BENCH='-stations 400 -calls 200' (kata bench -h lists them).
bench:
	$(build-kata)
	@$(KATA) bench $(if $(PHASE),-phase $(PHASE)) $(BENCH)

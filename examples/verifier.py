#!/usr/bin/env python3
"""examples/verifier.py — a third-party aha verifier in Python (docs/protocol.md).

It joins a running `aha train` (net.serve: true) as a verifier, scores the groups the learner's
broker sends it with the same rule rewards as the built-in verifier (verifier/reward.h: format,
addition accuracy, language share, DAPO overlong) and replies with ScoredGroup messages.

Needs Debian's python3-zmq and python3-protobuf, and aha_pb2.py, which the build generates with
`protoc --python_out` into BUILD/python (put that directory on PYTHONPATH or pass --pb-dir):

    PYTHONPATH=build/python examples/verifier.py --endpoints-file runs/demo/rl/endpoints.json

The reward weights come from the learner's config.yaml beside the endpoints file (the rl.w_*,
rl.max_new_tokens, rl.overlong_cache, rl.correct_requires_format and rl.language_charset keys),
so the scores equal the built-in verifier's. Only addition problems are judged; any other kind
scores 0 on accuracy. CURVE (net.keys) is not supported here: loopback or a trusted network only.

Exit status: 0 after the learner's Control "stop" (or SIGTERM/SIGINT); 1 when no learner is up
for --connect-timeout seconds (nothing listening, unresolvable host, or the learner died), or
when the endpoints file does not appear in that time; 2 on bad arguments.
"""
import argparse
import json
import os
import signal
import sys
import time

PROTOCOL = 1  # AHA_WIRE_PROTOCOL (core/wire.h)
SPECIAL = ["<pad>", "<bos>", "<eos>", "<think>", "</think>", "<answer>", "</answer>",
           "<|User|>", "<|Assistant|>"]
TAGS = SPECIAL  # spellings that may not appear inside the think or answer text


def piece(tok):
    """Spelling of one token id (model/tokenizer.h): specials, '\\n', printable ASCII."""
    if tok < len(SPECIAL):
        return "" if tok == 0 else SPECIAL[tok]
    if tok == 9:
        return "\n"
    if 10 <= tok < 105:
        return chr(tok - 10 + 32)
    raise ValueError("token %d outside the vocabulary" % tok)


# ---- rule rewards, as verifier/reward.c ----

def has_tag(s):
    return any(t in s for t in TAGS)


def split_response(r):
    """(think, answer) of exactly "<think>X</think><answer>Y</answer>[<eos>]", else None."""
    if not r.startswith("<think>"):
        return None
    x = r[len("<think>"):]
    mid = x.find("</think><answer>")
    if mid < 0 or has_tag(x[:mid]):
        return None
    y = x[mid + len("</think><answer>"):]
    end = y.find("</answer>")
    if end < 0:
        return None
    ans = y[:end]
    if ans.strip(" \t\n\r") == "" or has_tag(ans):
        return None
    rest = y[end + len("</answer>"):]
    if rest not in ("", "<eos>"):
        return None
    return x[:mid], ans


def first_block(r, open_tag, close_tag):
    s = r.find(open_tag)
    if s < 0:
        return None
    s += len(open_tag)
    e = r.find(close_tag, s)
    return None if e < 0 else r[s:e]


def addition_accuracy(answer, expected):
    """-?[0-9]{1,18} equal to EXPECTED (tasks/addition.c aha_add_parse_int)."""
    neg = answer.startswith("-")
    digits = answer[1:] if neg else answer
    if not 1 <= len(digits) <= 18 or any(c not in "0123456789" for c in digits):
        return 0.0
    v = int(digits)
    return 1.0 if (-v if neg else v) == expected else 0.0


CHARSETS = {
    "digits": "0123456789",
    "ops": "+-*/=;() ",
    "space": " ",
    "newline": "\n",
    "lower": "abcdefghijklmnopqrstuvwxyz",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
}
CHARSETS["letters"] = CHARSETS["lower"] + CHARSETS["upper"]
CHARSETS["printable"] = "".join(chr(c) for c in range(32, 127))
CHARSETS["punct"] = "".join(chr(c) for c in range(33, 127)
                            if not chr(c).isalnum())


def charset(spec):
    """The bytes of a charset spec "name+name+[chars]" (verifier/reward.h aha_reward_charset)."""
    out, p = set(), 0
    while p < len(spec):
        if spec[p] == "[":
            e = spec.find("]", p + 1)
            if e <= p + 1:
                raise ValueError("charset %r: empty or unclosed [...]" % spec)
            out.update(spec[p + 1:e])
            p = e + 1
        else:
            e = spec.find("+", p)
            e = len(spec) if e < 0 else e
            name = spec[p:e]
            if name not in CHARSETS:
                raise ValueError("charset %r: unknown name %r" % (spec, name))
            out.update(CHARSETS[name])
            p = e
        if p < len(spec):
            if spec[p] != "+":
                raise ValueError("charset %r: expected '+'" % spec)
            p += 1
    return out


def language(r, chars):
    t = first_block(r, "<think>", "</think>")
    if not t:
        return 0.0
    return sum(c in chars for c in t) / len(t)


def overlong(n, max_len, cache):
    if max_len <= 0:
        return 0.0
    n, c = max(n, 0), min(max(cache, 0), max_len)
    if n <= max_len - c:
        return 0.0
    if n > max_len:
        return -1.0
    return ((max_len - c) - n) / c


def score(cfg, problem, response, n_tokens):
    """(total, format, accuracy, language, overlong) of one response (aha_reward_score)."""
    split = split_response(response)
    fmt = 1.0 if split else 0.0
    if cfg["correct_requires_format"]:
        ans = split[1] if split else None
    else:
        ans = first_block(response, "<answer>", "</answer>")
    acc = 0.0
    if ans is not None and problem.kind == "addition":
        acc = addition_accuracy(ans, problem.expected)
    lang = language(response, cfg["charset"])
    ovl = overlong(n_tokens, cfg["max_len"], cfg["overlong_cache"])
    total = (cfg["w_format"] * fmt + cfg["w_accuracy"] * acc + cfg["w_language"] * lang
             + cfg["w_overlong"] * ovl)
    return total, fmt, acc, lang, ovl


# ---- configuration ----

def read_run_config(path):
    """The rl.* keys the rewards use, from the learner's config.yaml (two-level YAML as aha
    writes it); defaults of configs/demo.yaml for what is missing."""
    rl = {}
    if path and os.path.exists(path):
        section = None
        for line in open(path, encoding="utf-8"):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line.startswith(" "):
                section = line.split(":", 1)[0].strip()
            elif section == "rl" and line.startswith("  ") and not line.startswith("   "):
                k, _, v = line.strip().partition(":")
                v = v.strip()
                if v.startswith('"'):
                    v = json.loads(v)
                rl[k] = v
    b = lambda v: str(v).lower() in ("true", "yes", "on", "1")
    max_len = int(rl.get("max_new_tokens", 64))
    return {
        "w_format": float(rl.get("w_format", 0.1)),
        "w_accuracy": float(rl.get("w_accuracy", 0.9)),
        "w_language": float(rl.get("w_language", 0.0)),
        "w_overlong": float(rl.get("w_overlong", 0.0)),
        "correct_requires_format": b(rl.get("correct_requires_format", "true")),
        "max_len": max_len,
        "overlong_cache": min(int(rl.get("overlong_cache", 16)), max_len),
        "charset": charset(rl.get("language_charset", "digits+ops")),
    }


def wait_for_endpoint(path, key, timeout_s, stop):
    end = time.monotonic() + timeout_s
    while not os.path.exists(path):
        if stop[0] or time.monotonic() > end:
            sys.exit("verifier.py: %s did not appear in %g s (is the learner running with "
                     "net.serve: true?)" % (path, timeout_s))
        time.sleep(0.1)
    ep = json.load(open(path, encoding="utf-8")).get(key, "")
    if not ep:
        sys.exit('verifier.py: %s: no "%s" endpoint' % (path, key))
    return ep


# ---- the worker ----

def main():
    ap = argparse.ArgumentParser(description="aha verifier in Python (docs/protocol.md)")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--connect", metavar="ENDPOINT", help="the broker, e.g. tcp://host:port")
    g.add_argument("--endpoints-file", metavar="FILE", help="RUN_DIR/rl/endpoints.json")
    ap.add_argument("--config", help="the run's config.yaml (default: beside the endpoints file)")
    ap.add_argument("--name", default="py")
    ap.add_argument("--version", default="1")
    ap.add_argument("--heartbeat-s", type=float, default=1.0)
    ap.add_argument("--heartbeat-timeout-s", type=float, default=30.0)
    ap.add_argument("--connect-timeout-s", type=float, default=300.0,
                    help="give up when no learner is up this long (net.connect_timeout_s)")
    ap.add_argument("--pb-dir", help="directory of aha_pb2.py (BUILD/python)")
    args = ap.parse_args()
    if args.pb_dir:
        sys.path.insert(0, args.pb_dir)
    import zmq  # python3-zmq
    import aha_pb2  # generated: protoc --python_out

    stop = [False]

    def on_signal(signum, frame):
        stop[0] = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    cfg_path = args.config
    if args.endpoints_file:
        endpoint = wait_for_endpoint(args.endpoints_file, "broker", args.connect_timeout_s, stop)
        if not cfg_path:
            cfg_path = os.path.join(os.path.dirname(args.endpoints_file), "config.yaml")
    else:
        endpoint = args.connect
    cfg = read_run_config(cfg_path)
    who = "%s@%s" % (args.name, args.version)
    ident = "verifier/%s/%d" % (who, os.getpid())

    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, ident.encode())  # the broker knows us by this
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, (64 << 20) + (64 << 10))
    # liveness: ZMTP heartbeats, answered by the learner's ZeroMQ I/O thread
    sock.setsockopt(zmq.HEARTBEAT_IVL, int(args.heartbeat_s * 1000))
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(args.heartbeat_timeout_s * 1000))
    sock.setsockopt(zmq.HEARTBEAT_TTL, int(min(args.heartbeat_timeout_s, 6553) * 1000))
    mon = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
    sock.connect(endpoint)
    seq = [0]

    def send(**body):
        env = aha_pb2.Envelope(protocol=PROTOCOL, sender=ident, seq=seq[0], **body)
        seq[0] += 1
        sock.send(env.SerializeToString())

    send(hello=aha_pb2.Hello(role="verifier", name=args.name, version=args.version,
                             reward_kinds=["addition"], capacity=1))
    print("verifier.py %s dialling %s" % (who, endpoint), file=sys.stderr, flush=True)
    up, down_since, last_sent = False, time.monotonic(), time.monotonic()
    groups = samples = 0
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(mon, zmq.POLLIN)
    while not stop[0]:
        for s, _ in poller.poll(100):
            if s is mon:
                from zmq.utils.monitor import recv_monitor_message
                ev = recv_monitor_message(mon)["event"]
                if ev == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    up = True
                elif ev == zmq.EVENT_DISCONNECTED and up:
                    up, down_since = False, time.monotonic()
                continue
            env = aha_pb2.Envelope()
            try:
                env.ParseFromString(sock.recv())
            except Exception as e:  # a bad frame is dropped, never fatal
                print("verifier.py: dropped a malformed message: %s" % e, file=sys.stderr)
                continue
            if env.protocol != PROTOCOL:
                continue
            kind = env.WhichOneof("body")
            if kind == "control" and env.control.command == "stop":
                stop[0] = True
                break
            if kind != "group":
                continue
            grp = env.group
            sg = aha_pb2.ScoredGroup(verifier=who)
            sg.group.CopyFrom(grp)  # echoed whole: lease_id, prompt_id, samples ...
            off = 0
            for s_i in range(len(grp.sample_index)):
                p, t = grp.prompt_len[s_i], grp.total_len[s_i]
                text = "".join(piece(x) for x in grp.tokens[off + p:off + t])
                tot, fmt, acc, lang, ovl = score(cfg, grp.problem, text, t - p)
                sg.total.append(tot)
                sg.format.append(fmt)
                sg.accuracy.append(acc)
                sg.language.append(lang)
                sg.overlong.append(ovl)
                off += t
            send(scored_group=sg)
            last_sent = time.monotonic()
            groups += 1
            samples += len(grp.sample_index)
        now = time.monotonic()
        if not stop[0] and now - last_sent >= args.heartbeat_s:
            send(heartbeat=aha_pb2.Heartbeat(in_flight=0, done=groups))
            last_sent = now
        if not up and now - down_since > args.connect_timeout_s:
            print("verifier.py: no learner up at %s for %.0f s: giving up"
                  % (endpoint, now - down_since), file=sys.stderr)
            sys.exit(1)
    print("verifier.py %s: %d groups, %d samples scored" % (who, groups, samples),
          file=sys.stderr, flush=True)
    sock.close(0)
    mon.close(0)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())

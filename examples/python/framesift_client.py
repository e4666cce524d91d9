#!/usr/bin/env python3
"""A reference framesift client in Python, written from docs/protocol.md and schemas/ alone.

It streams a session from a framesift server, verifies every frame (header, seqs, and optionally the
pixels against a local copy of Fashion-MNIST), classifies each frame (an ONNX model through onnxruntime
when it is installed, else a trivial shape rule), builds a results document (schemas/results.schema.json),
submits it and prints the server's score.

Needs only Debian's python3-websockets (10.x) and python3-numpy; onnxruntime and jsonschema are used when
importable. Exit status: 0 when every check held, 1 when one failed, 2 on a usage error.

    /usr/bin/python3 examples/python/framesift_client.py --control ws://127.0.0.1:7000 --count 1000 --fps 0
"""

import argparse
import asyncio
import datetime
import gzip
import hashlib
import json
import os
import struct
import sys
import time
import zlib

import numpy as np
import websockets

PROTOCOL_VERSION = 1
HEADER = struct.Struct("<4sIHHBBHd")  # schemas/frame-header.schema.json: 24 bytes, little-endian
assert HEADER.size == 24
ENCODINGS = {0: "raw", 1: "jpeg", 2: "png"}
UNATTRIBUTED = {"short-message", "bad-magic", "text-message", "duplicate-seq", "seq-out-of-range"}
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


class ProtocolFailure(Exception):
    """The server did something docs/protocol.md says it does not."""


class BadFrame(ProtocolFailure):
    """A frame message that breaks the layout; `reason` is the counts.invalid key docs/protocol.md lists."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


# ---- frames ----

def parse_frame(message):
    """Decodes one binary frame message: (header dict, payload bytes). Raises BadFrame."""
    if len(message) < HEADER.size:
        raise BadFrame("short-message", f"frame of {len(message)} bytes: shorter than the 24-byte header")
    magic, seq, width, height, channels, encoding, reserved, sent_at = HEADER.unpack_from(message)
    payload = message[HEADER.size:]
    for reason, bad in (("bad-magic", magic != b"FSF1"), ("bad-dimensions", width == 0 or height == 0),
                        ("bad-channels", channels not in (1, 3)), ("bad-encoding", encoding not in ENCODINGS),
                        ("bad-reserved", reserved != 0),
                        ("bad-payload-length", encoding == 0 and len(payload) != width * height * channels),
                        ("empty-payload", encoding != 0 and not payload)):
        if bad:
            raise BadFrame(reason, f"frame {seq}: {reason} ({width}x{height}x{channels}, encoding {encoding})")
    header = dict(seq=seq, width=width, height=height, channels=channels, encoding=encoding, sentAt=sent_at)
    return header, payload


def read_idx(path):
    """An IDX file (plain or .gz) as a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


# ---- classification ----

def shape_rule(pixels):
    """A trivial classifier from the silhouette's size and fill (about 39% on the test split; chance is 10%)."""
    on = pixels > 30
    rows, cols = np.flatnonzero(on.any(1)), np.flatnonzero(on.any(0))
    if len(rows) == 0:
        return 0
    h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    fill = on.sum() / (h * w)
    lower = on[rows[0] + int(h * 0.6):rows[-1] + 1, cols[0]:cols[-1] + 1]
    middle = lower[:, w // 2 - 1:w // 2 + 1].mean() if w > 4 else 1
    if h < 17:  # footwear is short: sandals sparse, sneakers dense
        return 5 if fill < 0.45 else 7
    if w < 14 and middle < 0.5:  # two legs with a gap
        return 1
    if h < 22 and w >= 22:
        return 8 if fill > 0.6 else 9
    if fill < 0.55:
        return 1 if w < 16 else 3
    if w <= 20:
        return 3
    return 2 if fill > 0.75 else 6


class Classifier:
    """onnxruntime with the given model (NCHW float32 pixel/255, `logits` output) when available, else the rule."""

    def __init__(self, model_path):
        self.session = None
        self.model = None
        if model_path:
            try:
                import onnxruntime  # optional
            except ImportError:
                print(f"onnxruntime is not installed: classifying with the shape rule, not {model_path}")
            else:
                self.session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
                with open(model_path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                self.model = {"file": os.path.basename(model_path), "sha256": digest}

    @property
    def name(self):
        return f"onnxruntime {self.model['file']}" if self.session else "the shape rule"

    def classify(self, images):
        """images: N×28×28 uint8 → (labels, confidences)."""
        if self.session is None:
            return np.array([shape_rule(p) for p in images]), np.ones(len(images))
        x = (images.astype(np.float32) / 255.0)[:, None, :, :]
        input_name = self.session.get_inputs()[0].name
        outputs = [o.name for o in self.session.get_outputs()]
        logits = self.session.run(["logits" if "logits" in outputs else outputs[0]], {input_name: x})[0]
        e = np.exp(logits - logits.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        return p.argmax(1), p.max(1)


# ---- results document ----

def png_base64(pixels):
    """A grayscale PNG of an H×W uint8 array, base64 (zlib only, no imaging library)."""
    import base64
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode("ascii")


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def missing_ranges(seen, sent):
    ranges, start = [], None
    for s in range(sent):
        if s not in seen and start is None:
            start = s
        if s in seen and start is not None:
            ranges.append([start, s - 1])
            start = None
    if start is not None:
        ranges.append([start, sent - 1])
    return ranges


def results_document(session, request, sent, frames, invalid, labels, confidence, classifier, started, ended):
    seqs = sorted(frames)
    received = len(frames) + sum(invalid.values())
    # Every seq the server sent is received (valid, or invalid with a readable seq) or missing; invalid
    # messages with no trustworthy seq name no frame (docs/protocol.md: "unattributed").
    attributed = sum(n for reason, n in invalid.items() if reason not in UNATTRIBUTED)
    missing = sent - len(frames) - attributed if sent is not None else 0
    per_class = []
    for c in sorted(set(int(l) for l in labels)):
        mask = labels == c
        per_class.append({"label": c, "name": CLASS_NAMES[c] if c < 10 else str(c), "count": int(mask.sum()),
                          "meanConfidence": round(float(confidence[mask].mean()), 4)})
    # Two samples: the most and the least confident frame.
    samples = []
    if seqs:
        for reason, i in (("most-confident", int(confidence.argmax())), ("least-confident", int(confidence.argmin()))):
            header, payload = frames[seqs[i]]
            pixels = np.frombuffer(payload, np.uint8).reshape(header["height"], header["width"])
            samples.append({"seq": seqs[i], "label": int(labels[i]), "confidence": round(float(confidence[i]), 4),
                            "reason": reason, "png": png_base64(pixels)})
    return {
        "format": "framesift-results/1",
        # A third-party client names itself here (framesift writes its own package version).
        "framesiftVersion": "framesift-python-example/1",
        "sessionId": session["sessionId"],
        "mode": "classify",
        "createdAt": iso(time.time()),
        "classNames": CLASS_NAMES,
        "source": {"name": session["source"], "requestedCount": request.get("count"), "fps": session["fps"],
                   **{k: session[k] for k in ("width", "height", "channels") if k in session}},
        "model": classifier.model,
        "counts": {"sent": sent, "received": received, "processed": len(frames), "dropped": {},
                   "invalid": invalid, "missing": missing},
        "reconciliation": {"reconciled": missing == 0 and not invalid,
                           "missingRanges": missing_ranges(frames, sent or 0)},
        "predictions": {"seq": seqs, "label": [int(l) for l in labels],
                        "confidence": [round(float(c), 4) for c in confidence]},
        "samples": samples,
        "summary": {"predicted": len(seqs), "perClass": per_class},
        "timings": {"startedAt": iso(started), "endedAt": iso(ended), "durationMs": round((ended - started) * 1000, 1)},
    }


def validate_document(document, schemas_dir):
    """Checks the document against schemas/results.schema.json when python3-jsonschema is installed."""
    try:
        import jsonschema
    except ImportError:
        return "jsonschema not installed: not checked locally"
    with open(os.path.join(schemas_dir, "results.schema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)
    return "valid against schemas/results.schema.json"


# ---- the session ----

async def next_message(control, wanted, pending):
    """The next control message whose type is in `wanted` (or an error); others are kept in `pending`."""
    for i, message in enumerate(pending):
        if message["type"] in wanted or message["type"] == "error":
            return pending.pop(i)
    while True:
        message = json.loads(await asyncio.wait_for(control.recv(), 120))
        if message["type"] in wanted or message["type"] == "error":
            return message
        pending.append(message)


async def run(args):
    checks = []

    def check(ok, what):
        checks.append((bool(ok), what))
        print(("ok    " if ok else "FAIL  ") + what)

    async with websockets.connect(args.control, max_size=None) as control:
        pending = []
        await control.send(json.dumps({"type": "status"}))
        status = await next_message(control, {"status"}, pending)
        version = status.get("protocolVersion", 1)
        print(f"server speaks protocol version {version}; sources: {', '.join(status['sources'])}")
        check(version == PROTOCOL_VERSION, f"protocol version {version} is the one this client was written for")

        request = {"type": "start", "fps": args.fps, "source": args.source}
        if args.count:
            request["count"] = args.count
        await control.send(json.dumps(request))
        session = await next_message(control, {"session"}, pending)
        if session["type"] == "error":
            raise ProtocolFailure(f"start refused: {session['code']}: {session['message']}")
        print(f"session {session['sessionId']}: {session.get('count')} frames at {session['fps']} fps")

        frames, invalid, started = {}, {}, time.time()
        async with websockets.connect(session["framesUrl"], max_size=None) as socket:
            try:
                async for message in socket:
                    if isinstance(message, str):
                        # Errors arrive as JSON text on the frame socket; the server then closes it.
                        error = json.loads(message)
                        raise ProtocolFailure(f"frame socket error {error['code']}: {error['message']}")
                    try:
                        header, payload = parse_frame(message)
                    except BadFrame as err:
                        print(f"invalid frame: {err}")
                        invalid[err.reason] = invalid.get(err.reason, 0) + 1
                        continue
                    if header["seq"] in frames:
                        invalid["duplicate-seq"] = invalid.get("duplicate-seq", 0) + 1
                        continue
                    frames[header["seq"]] = (header, payload)
            except websockets.ConnectionClosed:
                pass
            # All frames are in when the frame socket closes with 1000 (`end` may come earlier or later).
            check(socket.close_code == 1000, f"frame socket closed with {socket.close_code} (1000 = all frames in)")
        ended = time.time()
        end = await next_message(control, {"end"}, pending)
        if end["type"] == "error":
            raise ProtocolFailure(f"session failed: {end['code']}: {end['message']}")
        sent = end["sent"]
        check(end.get("reason") is None, f"end: sent {sent}, reason {end.get('reason')}")
        check(sorted(frames) == list(range(sent)), f"received seqs 0..{sent - 1} once each ({len(frames)} frames)")

        seqs = sorted(frames)
        # Written for the Fashion-MNIST sources: raw 28×28 gray frames.
        images = np.stack([np.frombuffer(frames[s][1], np.uint8).reshape(28, 28) for s in seqs]) if seqs else \
            np.zeros((0, 28, 28), np.uint8)
        true_labels = None
        if args.verify_against and session["source"] == "fashion-mnist-test":
            images_file = find(args.verify_against, "t10k-images-idx3-ubyte")
            labels_file = find(args.verify_against, "t10k-labels-idx1-ubyte")
            reference = read_idx(images_file)
            same = all(np.array_equal(images[i], reference[s]) for i, s in enumerate(seqs))
            check(same, f"{len(seqs)} frames equal {images_file} byte for byte")
            true_labels = read_idx(labels_file)[seqs] if labels_file else None

        classifier = Classifier(args.model)
        labels, confidence = classifier.classify(images)
        print(f"classified {len(labels)} frames with {classifier.name}")
        document = results_document(session, request, sent, frames, invalid, labels, confidence, classifier,
                                    started, ended)
        print(f"results document: {validate_document(document, args.schemas)}")

        await control.send(json.dumps({"type": "submit", "sessionId": session["sessionId"], "results": document}))
        scored = await next_message(control, {"scored"}, pending)
        if scored["type"] == "error":
            raise ProtocolFailure(f"submit refused: {scored['code']}: {scored['message']}")
        accuracy = scored["accuracy"]
        print(f"server score (submission {scored.get('submission', 1)}): accuracy "
              f"{accuracy if accuracy is None else round(accuracy, 4)}, {scored['correct']}/{scored['predicted']} "
              f"correct, coverage {scored['coverage']}, reconciled {scored['reconciled']}")
        check(scored["reconciled"], "the server reconciles our counts with what it sent")
        if true_labels is not None and len(labels):
            local = float((labels == true_labels).mean())
            check(abs(local - accuracy) < 1e-9, f"server accuracy equals the local one ({round(local, 4)})")
    failed = [what for ok, what in checks if not ok]
    print(f"{len(checks) - len(failed)} of {len(checks)} checks passed")
    return 1 if failed else 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control", default="ws://127.0.0.1:7000", help="the server's control socket")
    parser.add_argument("--count", type=int, default=1000, help="frames to ask for (0 = the whole source)")
    parser.add_argument("--fps", type=float, default=0, help="frame rate (0 = as fast as we read)")
    parser.add_argument("--source", default="fashion-mnist-test")
    parser.add_argument("--model", default=os.path.join(root, "models", "fashion-mnist-cnn.onnx"),
                        help="ONNX classifier used when onnxruntime is installed ('' = the shape rule)")
    parser.add_argument("--verify-against", default=os.path.join(root, "data", "fashion-mnist"),
                        help="folder with the Fashion-MNIST test IDX files to compare frames with ('' = skip)")
    parser.add_argument("--schemas", default=os.path.join(root, "schemas"))
    args = parser.parse_args()
    if args.verify_against and not find(args.verify_against, "t10k-images-idx3-ubyte"):
        parser.error(f"--verify-against {args.verify_against}: no t10k-images-idx3-ubyte(.gz) there")
    try:
        return asyncio.run(run(args))
    except (ProtocolFailure, OSError, asyncio.TimeoutError, websockets.WebSocketException) as err:
        print(f"framesift_client: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

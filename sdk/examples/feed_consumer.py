#!/usr/bin/python3
"""A casehub feed consumer with nothing but pyzmq (Debian: python3-zmq).

It replays the events after a sequence number from casehubd's snapshot endpoint, then follows
the live feed; it notices any gap (a seq jump, a street's prev_street_seq that it has not seen,
a heartbeat announcing events it never got) and re-syncs by replaying from the last seq it
delivered. It prints one line per event, in seq order, never one twice:

    <seq> <type> <case_id> <street or -> <status> <title>

Diagnostics go to stderr. The protocol is described in docs/feed-protocol.md.

    feed_consumer.py --feed ipc:///var/lib/casehub/feed.sock \\
                     --snapshot ipc:///var/lib/casehub/snapshot.sock --from 0 [--street 320104002]
"""

import argparse
import collections
import json
import sys
import time

import zmq

DEAD_AFTER = 3.0       # seconds without a heartbeat (or event) before the hub is called silent
REQUEST_TIMEOUT = 5.0  # seconds without a reply before a replay request is retried
MAX_BUFFER = 20000     # live messages kept during a replay; beyond, dropped (found as a gap)


class Done(Exception):
    pass


class Consumer:
    def __init__(self, ctx, feed, snapshot, street, page, count, deadline):
        self.ctx, self.snapshot_endpoint = ctx, snapshot
        self.street = street            # None: every street; "" : events without a street
        self.page, self.count, self.deadline = page, count, deadline
        self.last = 0                   # every event up to this seq has been handled
        self.delivered = 0
        self.buffer = collections.deque()  # live messages that arrived during a replay
        self.last_heard = None
        self.warned_dead = False
        self.req = 0

        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        topic = "ev." if street is None else "ev.%s." % (street or "-")
        # Events before heartbeats, so a heartbeat never overtakes the events sent before it.
        self.sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self.sub.setsockopt(zmq.SUBSCRIBE, b"hb.")
        self.sub.connect(feed)
        self.dealer = None
        self.open_dealer()

    def open_dealer(self):
        if self.dealer is not None:
            self.dealer.close(0)    # replies to an abandoned request die with the socket
        self.dealer = self.ctx.socket(zmq.DEALER)
        self.dealer.setsockopt(zmq.LINGER, 0)
        self.dealer.connect(self.snapshot_endpoint)

    def check_deadline(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Done()

    # -- output ---------------------------------------------------------------------------
    def emit(self, header, doc):
        try:
            title = json.loads(doc).get("title") or ""
        except ValueError:
            title = ""
        print("%d %s %s %s %s %s" % (header["seq"], header["type"], header["case_id"],
                                     header["street_code"] or "-", header["status"], title),
              flush=True)
        self.delivered += 1
        if self.count and self.delivered >= self.count:
            raise Done()

    # -- the live feed ----------------------------------------------------------------------
    def read_sub(self):
        """Moves every waiting live message into the buffer (never blocks)."""
        while True:
            try:
                frames = self.sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.last_heard = time.monotonic()
            self.warned_dead = False
            if len(frames) >= 2:
                if len(self.buffer) >= MAX_BUFFER:
                    self.buffer.clear()  # the gap rules fetch these again from the store
                self.buffer.append(frames)

    def on_live(self, frames):
        topic = frames[0].decode()
        header = json.loads(frames[1])
        if topic == "hb.":
            if self.street is None:
                tail = header["head"]
            else:
                tail = header.get("streets", {}).get(self.street, 0)
            if tail > self.last:
                self.gap("heartbeat announces seq %d" % tail)
            return
        if self.street is not None and header["street_code"] != self.street:
            return
        seq = header["seq"]
        if seq <= self.last:
            return                      # already delivered (replayed)
        prev = seq - 1 if self.street is None else header["prev_street_seq"]
        if prev > self.last:
            self.gap("event %d follows %d" % (seq, prev))
            return
        self.last = seq
        self.emit(header, frames[2] if len(frames) > 2 else b"{}")

    def gap(self, why):
        print("gap after seq %d (%s): replaying" % (self.last, why), file=sys.stderr, flush=True)
        self.replay()

    # -- the replay endpoint ----------------------------------------------------------------
    def request(self, req):
        """Sends one request; yields its replies (topic, header, doc) up to and with the end."""
        self.req += 1
        req = dict(req, req=self.req)
        self.dealer.send(json.dumps(req).encode())
        poller = zmq.Poller()
        poller.register(self.dealer, zmq.POLLIN)
        poller.register(self.sub, zmq.POLLIN)
        last_reply = time.monotonic()
        while True:
            self.check_deadline()
            if time.monotonic() - last_reply > REQUEST_TIMEOUT:
                self.open_dealer()
                raise IOError("no answer from %s" % self.snapshot_endpoint)
            events = dict(poller.poll(200))
            if self.sub in events:
                self.read_sub()         # keep the live feed flowing into the buffer
            if self.dealer not in events:
                continue
            while True:
                try:
                    frames = self.dealer.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                last_reply = time.monotonic()
                topic, header = frames[0].decode(), json.loads(frames[1])
                if topic in ("end", "error") and header.get("req") != self.req:
                    continue            # the answer to an older request
                if topic == "error":
                    raise IOError(header["error"])
                yield topic, header, (frames[2] if len(frames) > 2 else b"")
                if topic == "end":
                    return

    def filter(self):
        return {} if self.street is None else {"street": self.street}

    def replay(self):
        """Every event after self.last, page by page; asks for a page when the last is done."""
        while True:
            try:
                more = True
                while more:
                    req = dict(self.filter(), op="since", seq=self.last, limit=self.page)
                    for topic, header, doc in self.request(req):
                        if topic == "end":
                            self.last = max(self.last, header["upto"])
                            more = header["more"]
                        elif topic.startswith("ev.") and header["seq"] > self.last:
                            self.last = header["seq"]
                            self.emit(header, doc)
                return
            except IOError as e:
                print("replay failed: %s; retrying" % e, file=sys.stderr, flush=True)
                time.sleep(1)

    def start_now(self):
        while True:
            try:
                for topic, header, _ in self.request({"op": "head"}):
                    if topic == "end":
                        self.last = header["head"]
                return
            except IOError as e:
                print("head request failed: %s; retrying" % e, file=sys.stderr, flush=True)
                time.sleep(1)

    def run(self, from_seq):
        if from_seq is None:
            self.start_now()
        else:
            self.last = from_seq
            self.replay()
        print("live after seq %d" % self.last, file=sys.stderr, flush=True)
        while True:
            self.check_deadline()
            while self.buffer:
                self.on_live(self.buffer.popleft())
            if self.sub.poll(500, zmq.POLLIN):
                self.read_sub()
            silent = self.last_heard is None or time.monotonic() - self.last_heard > DEAD_AFTER
            if silent and not self.warned_dead:
                print("no heartbeat from the hub for %.0f s" % DEAD_AFTER, file=sys.stderr, flush=True)
                self.warned_dead = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feed", required=True, help="the hub's feed_endpoint (PUB)")
    ap.add_argument("--snapshot", required=True, help="the hub's snapshot_endpoint (ROUTER)")
    ap.add_argument("--from", dest="from_seq", type=int, default=None,
                    help="replay the events after this seq first (default: live from now)")
    ap.add_argument("--street", default=None, help="one street's events only (- for none)")
    ap.add_argument("--count", type=int, default=0, help="exit after this many events")
    ap.add_argument("--timeout", type=float, default=0, help="exit after this many seconds")
    ap.add_argument("--page", type=int, default=10000, help="events per replay page")
    args = ap.parse_args()
    street = None if args.street is None else ("" if args.street == "-" else args.street)
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    ctx = zmq.Context()
    consumer = Consumer(ctx, args.feed, args.snapshot, street, args.page, args.count, deadline)
    code = 0
    try:
        consumer.run(args.from_seq)
    except Done:
        if args.count and consumer.delivered < args.count:
            print("%d of %d events before the timeout" % (consumer.delivered, args.count),
                  file=sys.stderr, flush=True)
            code = 1
    except KeyboardInterrupt:
        pass
    ctx.destroy(0)
    return code


if __name__ == "__main__":
    sys.exit(main())

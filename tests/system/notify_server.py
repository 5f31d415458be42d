# SPDX-License-Identifier: ISC
"""
A stand-in for a desktop's notification server, for the tests of
hooks/wuzha-notify: it owns org.freedesktop.Notifications on the session
bus it is started on (under dbus-run-session), implements Notify,
GetCapabilities, GetServerInformation and CloseNotification, and appends
every Notify call to a file as one JSON line (app name, summary, body,
actions, the urgency hint, the id it gave).

    notify_server.py RECORD [--invoke ACTION]

Prints "ready PID BUS-ADDRESS" on stdout once the name is owned, so
that a test can run hooks on this bus and stop the server by its pid.  --invoke ACTION: after
each Notify that offers ACTION, emit ActionInvoked(id, ACTION) a moment
later, as a person clicking it would.  Runs until SIGTERM.
"""

import json
import os
import signal
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


class Server(dbus.service.Object):
    def __init__(self, bus, record, invoke):
        super().__init__(bus, PATH)
        self.record, self.invoke, self.last = record, invoke, 0

    @dbus.service.method(NAME, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["actions", "body", "body-markup"]

    @dbus.service.method(NAME, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("wuzha-test", "wuzha", "0", "1.2")

    @dbus.service.method(NAME, in_signature="susssasa{sv}i",
                         out_signature="u")
    def Notify(self, app, replaces, icon, summary, body, actions, hints,
               expire):
        self.last += 1
        nid = int(replaces) or self.last
        urgency = hints.get("urgency")
        rec = {"id": nid, "app": str(app), "summary": str(summary),
               "body": str(body), "actions": [str(a) for a in actions],
               "urgency": None if urgency is None else int(urgency),
               "expire": int(expire)}
        with open(self.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        names = [str(a) for a in actions[0::2]]
        if self.invoke and self.invoke in names:
            GLib.timeout_add(300, self._invoke, nid)
        return dbus.UInt32(nid)

    def _invoke(self, nid):
        self.ActionInvoked(dbus.UInt32(nid), self.invoke)
        return False

    @dbus.service.method(NAME, in_signature="u", out_signature="")
    def CloseNotification(self, nid):
        self.NotificationClosed(nid, dbus.UInt32(3))

    @dbus.service.signal(NAME, signature="us")
    def ActionInvoked(self, nid, action):
        pass

    @dbus.service.signal(NAME, signature="uu")
    def NotificationClosed(self, nid, reason):
        pass


def main(argv):
    record = argv[1]
    invoke = argv[3] if len(argv) > 3 and argv[2] == "--invoke" else None
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    name = dbus.service.BusName(NAME, bus, do_not_queue=True)  # noqa: F841
    server = Server(bus, record, invoke)  # noqa: F841 (exported)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print("ready %d %s" % (os.getpid(),
                           os.environ["DBUS_SESSION_BUS_ADDRESS"]),
          flush=True)
    loop.run()
    # Not through the interpreter's exit: releasing the name then may
    # find the bus already gone.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

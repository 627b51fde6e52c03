"""Hostile messages on the agent's control topics, with a real mosquitto and the real daemon:
a 20 MiB message on ack and one on cmd are refused unread (larger than a control message may
be) and the agent's peak memory stays within a few copies of the message, not the hundreds of
MiB a decode would take; a retained message on cmd is never taken: with MQTT 5 the
subscription asks the broker not to send it, with MQTT 3.1.1 it is ignored with one log line
however often the agent reconnects; a live signed command is still taken afterwards.
usage: mqtt_bounds_test.py WHAGENT [ARGS...]"""
import harness as h
from harness import eq, has, ok

TOPIC = "%s/%s/%%s" % (h.PREFIX, h.SITE)


def hwm_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def pub(broker, topic, payload, retain=False):
    with h.Mqtt(broker) as m:
        info = m.c.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(60 * h.SLOW)
        ok(info.is_published(), "publish on %s not acknowledged" % topic)


def test(t):
    broker = t.broker()
    key, pubkey = t.platform_key()
    a = t.new_agent()
    a.write_conf(sections=h.mqtt_section(broker.port, "ack_mode = platform\nplatform_pubkey = %s" % pubkey))
    a.start()
    a.wait_link("connected", 30)
    p = h.Platform(broker, key)
    p.wait_online(a)
    base = hwm_kib(a.pid)
    big = b"\x0a\x00" * (10 << 20)  # 20 MiB of empty length-delimited fields: a decode's worst case
    mark = a.mark()
    for what in ("ack", "cmd"):
        pub(broker, TOPIC % what, big)
        a.wait_log(r"refused .* on %s: 20971520 bytes, more than the 8192" % (TOPIC % what), 30, since=mark,
                   what="the 20 MiB %s message not refused" % what)
    peak = hwm_kib(a.pid)
    print("peak RSS: %d KiB before, %d KiB after a 20 MiB message on ack and on cmd" % (base, peak))
    ok(peak - base < 100 * 1024, "peak RSS grew by %d KiB" % (peak - base))
    eq(p.command("C1", "snapshot")[0], "ok", "a signed command after the big ones")

    # a retained message on cmd: MQTT 5 never gets it
    pub(broker, TOPIC % "cmd", b"x" * 1000, retain=True)
    a.stop()
    mark = a.mark()
    a.start()
    a.wait_link("connected", 30)
    p.wait_online(a)
    eq(p.command("C2", "snapshot")[0], "ok", "a signed command with a retained one on cmd")
    ok("retained" not in a.text(mark), "MQTT 5: the retained message came: %s" % a.text(mark)[-800:])
    a.stop()

    # MQTT 3.1.1: the broker sends it at every subscription; ignored, said once
    a.edit_conf("host = 127.0.0.1", "host = 127.0.0.1\nprotocol = mqtt311")
    mark = a.mark()
    a.start()
    a.wait_log("ignoring a retained message on %s" % (TOPIC % "cmd"), 30, since=mark)
    for i in range(2):  # reconnects: a client taking over the agent's client id kicks it off
        with h.Mqtt(broker, client_id="whagent-%s" % h.SITE):
            pass
        a.wait_log("uplink: connected to", 60, since=mark, n=i + 2, what="reconnect %d" % (i + 1))
    p.close()
    p = h.Platform(broker, key)
    eq(p.command("C3", "snapshot", timeout=30)[0], "ok", "MQTT 3.1.1: a signed command after the retained one")
    eq(a.text(mark).count("ignoring a retained message"), 1, "the retained message said once")
    p.close()
    a.stop()
    return "20 MiB on ack and cmd refused unread (peak RSS +%d KiB); retained cmd never taken" % (peak - base)


if __name__ == "__main__":
    h.main(test)

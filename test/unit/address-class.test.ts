import assert from "node:assert/strict";
import { test } from "node:test";
import { addressClass } from "../../src/models/pull/addressClass.ts";

test("loopback, private, CGNAT, link-local, unspecified, multicast and reserved IPv4 addresses are classed; public ones are not", () => {
  const cases: [string, string | null][] = [
    ["127.0.0.1", "loopback"], ["127.255.0.9", "loopback"],
    ["10.1.2.3", "private"], ["172.16.0.1", "private"], ["172.31.255.255", "private"], ["192.168.1.1", "private"],
    ["100.64.0.1", "carrier-grade NAT"], ["100.127.255.254", "carrier-grade NAT"],
    ["169.254.169.254", "link-local"], ["0.0.0.0", "unspecified"], ["0.1.2.3", "unspecified"],
    ["224.0.0.1", "multicast"], ["239.255.255.250", "multicast"],
    ["255.255.255.255", "reserved"], ["240.0.0.1", "reserved"], ["192.0.2.7", "reserved"], ["198.18.0.1", "reserved"],
    ["8.8.8.8", null], ["1.1.1.1", null], ["172.15.255.255", null], ["172.32.0.0", null], ["100.63.255.255", null],
    ["100.128.0.0", null], ["169.253.0.1", null], ["192.169.0.1", null], ["11.0.0.1", null],
  ];
  for (const [ip, cls] of cases) assert.equal(addressClass(ip), cls, ip);
});

test("IPv6 loopback, unspecified, link-local, unique-local, multicast and the IPv4 forms it carries are classed", () => {
  const cases: [string, string | null][] = [
    ["::1", "loopback"], ["0:0:0:0:0:0:0:1", "loopback"], ["[::1]", "loopback"], ["::", "unspecified"],
    ["fe80::1", "link-local"], ["fe80::1%eth0", "link-local"], ["febf::1", "link-local"],
    ["fc00::1", "unique-local"], ["fd12:3456::1", "unique-local"], ["ff02::1", "multicast"], ["fec0::1", "private"],
    ["::ffff:127.0.0.1", "loopback"], ["::ffff:7f00:1", "loopback"], ["::FFFF:10.0.0.1", "private"], ["::ffff:169.254.169.254", "link-local"],
    ["::ffff:0.0.0.0", "unspecified"], ["64:ff9b::7f00:1", "loopback"], ["64:ff9b::a00:1", "private"], ["2002:7f00:1::1", "loopback"],
    ["::127.0.0.1", "reserved"], ["2001:db8::1", "reserved"], ["100::1", "reserved"],
    ["2606:4700:4700::1111", null], ["2a00:1450:4001::200e", null], ["::ffff:8.8.8.8", null], ["64:ff9b::808:808", null], ["2002:808:808::1", null],
  ];
  for (const [ip, cls] of cases) assert.equal(addressClass(ip), cls, ip);
});

test("something that is not an IP address is never taken for a public one", () => {
  for (const bad of ["", "localhost", "1.2.3", "::g", "example.com"]) assert.equal(addressClass(bad), "reserved", bad);
});

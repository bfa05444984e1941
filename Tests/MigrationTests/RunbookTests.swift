import Ensemble
import Testing

@testable import Migration
@testable import MigrationPlanning

@Suite struct RunbookRendering {
    @Test func mitosisRunbookHasCommandsDiffsGatesAndThePointOfNoReturn() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, version: .v3_4_13, staying: false)
        let proof = try Prover.check(plan)
        let text = Runbook.render(plan, proof: proof)
        #expect(text.contains("Proof: safe"))
        // The point of no return is marked right before its step.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let marker = try #require(lines.firstIndex { $0.contains("POINT OF NO RETURN") })
        let step = try #require(lines.firstIndex { $0.contains("[split-restart-destination]") })
        #expect(marker < step && step - marker <= 6)
        // Config changes are unified diffs of the real zoo.cfg text.
        #expect(text.contains("--- /etc/zookeeper/conf/zoo.cfg"))
        #expect(text.contains("+server.4=10.2.0.4:2888:3888"))
        #expect(text.contains("-server.4=10.2.0.4:2888:3888"), "the final config drops 4 from the source's list")
        #expect(text.contains("$ echo 4 > /var/lib/zookeeper/myid"))
        // Exact commands per host.
        #expect(text.contains("  on zk-destination-4:"))
        #expect(text.contains("$ systemctl restart zookeeper"))
        #expect(text.contains("$ sudo iptables -A OUTPUT -p tcp -d 10.1.0.1 -m multiport --dports 2888,3888"))
        #expect(text.contains("$ sudo iptables -D INPUT -p tcp -s 10.1.0.3 -m multiport --dports 2888,3888"))
        #expect(text.contains("+zookeeper.connect=10.2.0.4:2181,10.2.0.5:2181,10.2.0.6:2181/kafka"))
        #expect(text.contains("[ ] synced: destination servers 4 follow the leader"))
        #expect(text.contains("Client impact: inside window split: kafka may find no quorum (expected 10 s in all)."))
    }

    @Test func hostsWithoutSudoGetCommandsWithoutIt() throws {
        let plan = try Fixtures.plan(.replace, 3, 3, staying: true, movableAddresses: true)
        let text = Runbook.render(plan, withoutSudo: ["zk-destination-1"])
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let del = try #require(lines.firstIndex { $0.hasSuffix("ip addr del 10.1.0.1/24 dev eth0") })
        #expect(lines[del] == "$ sudo ip addr del 10.1.0.1/24 dev eth0", "zk-source-1 has sudo")
        #expect(lines[del + 1] == "then on zk-destination-1:")
        #expect(lines[del + 2] == "$ ip addr add 10.1.0.1/24 dev eth0", "zk-destination-1 has no sudo")
    }

    @Test func reconfigRunbookUsesZkCli() throws {
        let plan = try Fixtures.plan(.reconfig, 3, 3, staying: false)
        let text = Runbook.render(plan)
        // The `;` is quoted: the line is safe to paste into a shell.
        #expect(text.contains("$ zkCli.sh -server 10.1.0.1:2181 reconfig -add 'server.4=10.2.0.4:2888:3888;2181'"))
        #expect(text.contains("must have moved to destination by now"))
        #expect(text.contains("reconfig -remove 1"))
        #expect(text.contains("write /etc/zookeeper/conf/zoo.cfg.dynamic:") || text.contains("change /etc/zookeeper/conf/zoo.cfg.dynamic:"))
        #expect(text.contains("reconfigEnabled=true"))
    }

    @Test func copyRunbookNamesTheBlockWindow() throws {
        let plan = try Fixtures.plan(.copy, 3, 3)
        let text = Runbook.render(plan)
        #expect(text.contains("$ mitosis copy 10.1.0.1:2181,10.1.0.2:2181,10.1.0.3:2181/kafka 10.2.0.4:2181,10.2.0.5:2181,10.2.0.6:2181/kafka --follow"))
        #expect(text.contains("block: kafka for about 2 min"))
        // The block step stops each broker with its own stop command; the switch starts it again.
        #expect(text.contains("  on kafka-2:\n    # stop kafka/broker-2 on kafka-2 (it stays stopped until the switch starts it on the destination)\n    $ systemctl stop kafka\n"))
        var byHand = plan
        byHand.clientGroups[0].members[1].stop = nil
        #expect(Runbook.render(byHand).contains("(stop kafka member broker-2 by hand and keep it stopped until the switch: the inventory has no stop command for it; add stop: to the member)"))
    }

    @Test func replaceRunbookMovesTheAddressWithIpAndArping() throws {
        let plan = try Fixtures.plan(.replace, 3, 3, staying: true, movableAddresses: true)
        let text = Runbook.render(plan, proof: try Prover.check(plan))
        #expect(text.contains("Proof: safe"))
        #expect(text.contains("  - leader-election: kafka, smartstack for about 5 s (steps replace-1-stop-old, replace-2-stop-old, replace-3-stop-old)"))
        #expect(text.contains("[ ] stopped: source servers 1 not running"))
        #expect(text.contains("""
              on zk-source-1:
                # move 10.1.0.1/24 from zk-source-1 to zk-destination-1 (server 1's stable address)
                $ sudo ip addr del 10.1.0.1/24 dev eth0
                then on zk-destination-1:
                $ sudo ip addr add 10.1.0.1/24 dev eth0
                $ sudo arping -U -c 2 -I eth0 -s 10.1.0.1 10.1.0.1
            """))
    }

    @Test func unifiedDiffOfKnownTexts() {
        let before = "a\nb\nc\nd\ne\nf\ng\nh\n"
        let after = "a\nb\nc\nD\ne\nf\ng\nh\ni\n"
        let diff = Runbook.unifiedDiff(before, after, path: "f")
        #expect(
            diff == [
                "--- f", "+++ f", "@@ -1,8 +1,9 @@", " a", " b", " c", "-d", "+D", " e", " f", " g", " h", "+i",
            ])
        let far = Runbook.unifiedDiff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "x\n2\n3\n4\n5\n6\n7\n8\n9\ny\n", path: "f")
        #expect(far == ["--- f", "+++ f", "@@ -1,4 +1,4 @@", "-1", "+x", " 2", " 3", " 4", "@@ -7,4 +7,4 @@", " 7", " 8", " 9", "-10", "+y"])
    }
}

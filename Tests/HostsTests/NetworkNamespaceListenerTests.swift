import Testing

@testable import Hosts

/// The rehearsal's platform controller tells which sandbox host's server exists by the listeners
/// in the host's namespace, read from `/proc/PID/net/tcp` and `tcp6` (format of Linux's
/// `tcp4_seq_show` / `tcp6_seq_show`: local address and port in hex, state `0A` = LISTEN).
@Suite struct NetworkNamespaceListenerTests {
    @Test func onlyListeningSocketsCount() {
        let tcp = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 00000000:0885 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41235 1 0000000000000000 100 0 0 10 0
               1: 0B0CC80A:0B40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41236 1 0000000000000000 100 0 0 10 0
               2: 0100007F:D2F0 0100007F:0CEA 01 00000000:00000000 00:00000000 00000000     0        0 41237 1 0000000000000000 20 4 30 10 -1
            """
        let tcp6 = """
              sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 00000000000000000000000000000000:0F3C 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51234 1 0000000000000000 100 0 0 10 0
               1: 0000000000000000FFFF00000B0CC80A:0885 0000000000000000FFFF00000C0CC80A:9C40 06 00000000:00000000 03:00000F9D 00000000     0        0 0 3 0000000000000000
            """
        // 2181 and 2880 listen on IPv4; 3900 on IPv6; 3306 and the TIME_WAIT 2181 are connections, not listeners.
        #expect(NetworkNamespace.listening(inProcNetTCP: tcp) == [2181, 2880])
        #expect(NetworkNamespace.listening(inProcNetTCP: tcp6) == [3900])
        #expect(NetworkNamespace.listening(inProcNetTCP: "") == [])
    }

    @Test func aNamespaceThatDoesNotExistListensOnNothing() {
        #expect(NetworkNamespace.listeningPorts(in: ["mitosis-no-such-namespace"]) == ["mitosis-no-such-namespace": []])
    }
}

import NIOPosix
import Testing

@testable import ZooKeeper

/// Sandbox addresses exist only inside Mitosis's network namespaces: asked from this test's
/// threads (the machine's own network), the client, the four-letter words and the SSH driver
/// refuse them before a packet is sent, saying where to run instead.
@Suite struct SandboxAddressGuardTests {
    @Test func sandboxAddressesAreTheProjectNetworkOnly() {
        for address in ["10.200.0.1", "10.200.1.11", "10.200.255.255"] { #expect(SandboxAddressGuard.isSandboxAddress(address), "\(address)") }
        for address in ["10.20.1.1", "10.201.0.1", "127.0.0.1", "zk-1", "10.200.1", "10.200.1.256", "110.200.1.1", "::1"] {
            #expect(!SandboxAddressGuard.isSandboxAddress(address), "\(address)")
        }
    }

    @Test func aNamespaceReachesTheSandboxWhenItsRoutesSaySo() {
        let header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        // A sandbox host's table (10.200.0.0/16 on its link), and this machine's (a default route only).
        #expect(SandboxAddressGuard.routesReachSandboxNetwork(header + "eth0\t0000C80A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"))
        #expect(!SandboxAddressGuard.routesReachSandboxNetwork(header + "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"))
        #expect(!SandboxAddressGuard.routesReachSandboxNetwork(header + "eth0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n"), "10.0.0.0/8 is not the sandbox's route")
        #expect(!SandboxAddressGuard.routesReachSandboxNetwork(""))
    }

    @Test func theClientRefusesASandboxAddressFromOutsideItsNamespaces() async throws {
        #expect(!SandboxAddressGuard.callingThreadReachesSandboxNetwork(), "the tests run in the machine's own network")
        let error = await #expect(throws: SandboxAddressRefused.self) {
            try await ZooKeeperClient.connect("127.0.0.1:1,10.200.1.11:2181", timeout: .seconds(5)).close()
        }
        #expect(error?.description.contains("10.200.1.11 is a Mitosis sandbox address") == true)
        #expect(error?.description.contains("mitosis sandbox exec") == true)
    }

    @Test func fourLetterWordsRefuseASandboxAddressFromOutsideItsNamespaces() async throws {
        let error = await #expect(throws: FourLetterWordError.self) {
            _ = try await FourLetterWords.send("srvr", to: .init(host: "10.200.2.12", port: 2181), timeout: .seconds(5))
        }
        #expect(error?.kind == .unreachable)
        #expect(error?.description.contains("10.200.2.12 is a Mitosis sandbox address") == true, "\(String(describing: error))")
    }
}

/// A ZooKeeper transaction id: the high 32 bits are the leader epoch, the low 32 bits a counter
/// within that epoch. Every committed change gets the next zxid, so zxids order all changes.
public struct Zxid: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public init(epoch: UInt32, counter: UInt32) {
        self.rawValue = Int64(bitPattern: UInt64(epoch) << 32 | UInt64(counter))
    }

    public static let zero = Zxid(0)

    public var epoch: UInt32 { UInt32(truncatingIfNeeded: UInt64(bitPattern: rawValue) >> 32) }
    public var counter: UInt32 { UInt32(truncatingIfNeeded: UInt64(bitPattern: rawValue)) }

    public static func < (lhs: Zxid, rhs: Zxid) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Hex, as ZooKeeper prints it: `0x100000002`.
    public var description: String { "0x" + String(UInt64(bitPattern: rawValue), radix: 16) }

    /// Parses `0x…` hex (as `srvr` and `mntr` print it) or decimal.
    public init?(parsing text: String) {
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            guard let value = UInt64(text.dropFirst(2), radix: 16) else { return nil }
            self.rawValue = Int64(bitPattern: value)
        } else {
            guard let value = Int64(text) else { return nil }
            self.rawValue = value
        }
    }
}

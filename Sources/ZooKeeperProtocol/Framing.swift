import NIOCore

/// Splits the byte stream into frames: every ZooKeeper message is a 4-byte big-endian length and
/// that many bytes. An incomplete frame is left in the buffer until more bytes arrive.
public struct ZooKeeperFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = ByteBuffer

    /// Frames longer than this are refused: a corrupt length must not make us allocate gigabytes.
    public let maximumFrameLength: Int

    public init(maximumFrameLength: Int = 64 << 20) {
        self.maximumFrameLength = maximumFrameLength
    }

    public struct FrameTooLong: Error, Sendable, CustomStringConvertible {
        public var length: Int
        public var maximum: Int
        public var description: String { "the server sent a frame of \(length) bytes, more than the client's limit of \(maximum)" }
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.nextFrame(from: &buffer, maximumFrameLength: maximumFrameLength) else {
            return .needMoreData
        }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    /// Takes one whole frame (without its length prefix) off the buffer, or nothing if incomplete.
    public static func nextFrame(from buffer: inout ByteBuffer, maximumFrameLength: Int) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return nil }
        guard length >= 0, Int(length) <= maximumFrameLength else {
            throw FrameTooLong(length: Int(length), maximum: maximumFrameLength)
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(length))
    }
}

extension ByteBuffer {
    /// Writes a length-prefixed frame whose body `write` produces.
    @inlinable
    public mutating func writeZooKeeperFrame(_ write: (inout ByteBuffer) -> Void) {
        let lengthIndex = writerIndex
        writeInteger(Int32(0))
        write(&self)
        setInteger(Int32(writerIndex - lengthIndex - 4), at: lengthIndex)
    }
}

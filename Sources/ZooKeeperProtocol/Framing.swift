import NIOCore

/// Splits the byte stream into frames: every ZooKeeper message is a 4-byte big-endian length and
/// that many bytes. An incomplete frame is left in the buffer until more bytes arrive.
package struct ZooKeeperFrameDecoder: ByteToMessageDecoder, Sendable {
    package typealias InboundOut = ByteBuffer

    /// Frames longer than this are refused: a corrupt length must not make us allocate gigabytes.
    package let maximumFrameLength: Int

    package init(maximumFrameLength: Int = 64 << 20) {
        self.maximumFrameLength = maximumFrameLength
    }

    package struct FrameTooLong: Error, Sendable, CustomStringConvertible {
        package var length: Int
        package var maximum: Int
        package var description: String { "the server sent a frame of \(length) bytes, more than the client's limit of \(maximum)" }
    }

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.nextFrame(from: &buffer, maximumFrameLength: maximumFrameLength) else {
            return .needMoreData
        }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    /// Takes one whole frame (without its length prefix) off the buffer, or nothing if incomplete.
    package static func nextFrame(from buffer: inout ByteBuffer, maximumFrameLength: Int) throws -> ByteBuffer? {
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
    package mutating func writeZooKeeperFrame(_ write: (inout ByteBuffer) -> Void) {
        let lengthIndex = writerIndex
        writeInteger(Int32(0))
        write(&self)
        setInteger(Int32(writerIndex - lengthIndex - 4), at: lengthIndex)
    }
}

import NIOCore

// Jute, ZooKeeper's record serialization: big-endian integers, booleans as one byte,
// strings and buffers as a 4-byte length followed by the bytes (-1 for null),
// vectors as a 4-byte count followed by the elements (-1 for null).

/// A record could not be decoded: the bytes are shorter than the record or malformed.
package struct JuteDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    package var record: String
    package var field: String
    package var reason: String

    package init(record: String, field: String, reason: String) {
        self.record = record
        self.field = field
        self.reason = reason
    }

    package var description: String { "cannot decode \(record).\(field): \(reason)" }
}

extension ByteBuffer {
    @inlinable
    package mutating func writeJuteBool(_ value: Bool) {
        writeInteger(value ? UInt8(1) : UInt8(0))
    }

    @inlinable
    package mutating func writeJuteString(_ value: String?) {
        guard let value else {
            writeInteger(Int32(-1))
            return
        }
        let lengthIndex = writerIndex
        writeInteger(Int32(0))
        let written = writeString(value)
        setInteger(Int32(written), at: lengthIndex)
    }

    @inlinable
    package mutating func writeJuteBuffer(_ value: [UInt8]?) {
        guard let value else {
            writeInteger(Int32(-1))
            return
        }
        writeInteger(Int32(value.count))
        writeBytes(value)
    }

    @inlinable
    package mutating func writeJuteBuffer(_ value: ByteBuffer?) {
        guard var value else {
            writeInteger(Int32(-1))
            return
        }
        writeInteger(Int32(value.readableBytes))
        writeBuffer(&value)
    }

    @inlinable
    package mutating func writeJuteStrings(_ values: [String]) {
        writeInteger(Int32(values.count))
        for value in values { writeJuteString(value) }
    }

    package mutating func readJuteInt(_ record: String, _ field: String) throws(JuteDecodingError) -> Int32 {
        guard let value = readInteger(as: Int32.self) else {
            throw JuteDecodingError(record: record, field: field, reason: "needs 4 bytes, \(readableBytes) left")
        }
        return value
    }

    package mutating func readJuteLong(_ record: String, _ field: String) throws(JuteDecodingError) -> Int64 {
        guard let value = readInteger(as: Int64.self) else {
            throw JuteDecodingError(record: record, field: field, reason: "needs 8 bytes, \(readableBytes) left")
        }
        return value
    }

    package mutating func readJuteBool(_ record: String, _ field: String) throws(JuteDecodingError) -> Bool {
        guard let value = readInteger(as: UInt8.self) else {
            throw JuteDecodingError(record: record, field: field, reason: "needs 1 byte, none left")
        }
        return value != 0
    }

    package mutating func readJuteString(_ record: String, _ field: String) throws(JuteDecodingError) -> String? {
        let length = try readJuteInt(record, field)
        if length < 0 { return nil }
        guard let value = readString(length: Int(length)) else {
            throw JuteDecodingError(record: record, field: field, reason: "string of \(length) bytes, \(readableBytes) left")
        }
        return value
    }

    package mutating func readJuteBytes(_ record: String, _ field: String) throws(JuteDecodingError) -> [UInt8]? {
        let length = try readJuteInt(record, field)
        if length < 0 { return nil }
        guard let value = readBytes(length: Int(length)) else {
            throw JuteDecodingError(record: record, field: field, reason: "buffer of \(length) bytes, \(readableBytes) left")
        }
        return value
    }

    package mutating func readJuteStrings(_ record: String, _ field: String) throws(JuteDecodingError) -> [String] {
        let count = try readJuteInt(record, field)
        if count <= 0 { return [] }
        guard Int(count) <= readableBytes / 4 else {
            throw JuteDecodingError(record: record, field: field, reason: "vector of \(count) strings cannot fit in \(readableBytes) bytes")
        }
        var values: [String] = []
        values.reserveCapacity(Int(count))
        for _ in 0..<count {
            values.append(try readJuteString(record, field) ?? "")
        }
        return values
    }
}

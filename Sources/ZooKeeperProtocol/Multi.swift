import NIOCore

/// One operation of a multi transaction: all succeed or none is applied.
public enum MultiOperation: Sendable, Hashable {
    case create(CreateRequest)
    case delete(DeleteRequest)
    case setData(SetDataRequest)
    case check(CheckVersionRequest)

    public var path: String {
        switch self {
        case .create(let request): request.path
        case .delete(let request): request.path
        case .setData(let request): request.path
        case .check(let request): request.path
        }
    }

    package var opCode: OpCode {
        switch self {
        case .create(let request): request.opCode
        case .delete: .delete
        case .setData: .setData
        case .check: .check
        }
    }

    func encodeBody(into buffer: inout ByteBuffer) {
        switch self {
        case .create(let request): request.encode(into: &buffer)
        case .delete(let request): request.encode(into: &buffer)
        case .setData(let request): request.encode(into: &buffer)
        case .check(let request): request.encode(into: &buffer)
        }
    }
}

/// The result of one operation of a multi transaction.
public enum MultiResult: Sendable, Hashable {
    case created(path: String, stat: Stat?)
    case deleted
    case dataSet(Stat)
    case checked
    /// The operation failed, or (with `runtimeInconsistency`) was rolled back because another failed.
    case failed(ZooKeeperError.Code)

    public var error: ZooKeeperError.Code? {
        if case .failed(let code) = self { return code }
        return nil
    }
}

/// `MultiHeader`: each operation is preceded by one; a header with type -1 and done=true ends the list.
package struct MultiHeader: Sendable, Hashable {
    package var type: OpCode
    package var done: Bool
    package var error: Int32

    package init(type: OpCode, done: Bool, error: Int32) {
        self.type = type
        self.done = done
        self.error = error
    }

    package static let end = MultiHeader(type: OpCode(rawValue: -1), done: true, error: -1)

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(type.rawValue)
        buffer.writeJuteBool(done)
        buffer.writeInteger(error)
    }

    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> MultiHeader {
        MultiHeader(
            type: OpCode(rawValue: try buffer.readJuteInt("MultiHeader", "type")),
            done: try buffer.readJuteBool("MultiHeader", "done"),
            error: try buffer.readJuteInt("MultiHeader", "err")
        )
    }
}

/// `MultiTxnRequest`.
package struct MultiRequest: ZooKeeperRequestRecord, Hashable {
    package var operations: [MultiOperation]

    package init(operations: [MultiOperation]) { self.operations = operations }

    package var opCode: OpCode { .multi }

    package func encode(into buffer: inout ByteBuffer) {
        for operation in operations {
            MultiHeader(type: operation.opCode, done: false, error: -1).encode(into: &buffer)
            operation.encodeBody(into: &buffer)
        }
        MultiHeader.end.encode(into: &buffer)
    }
}

/// `MultiResponse`: one result per operation, in order.
package struct MultiResponse: ZooKeeperResponseRecord, Hashable {
    package var results: [MultiResult]

    package init(results: [MultiResult]) { self.results = results }

    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> MultiResponse {
        var results: [MultiResult] = []
        while true {
            let header = try MultiHeader.decode(from: &buffer)
            if header.done { break }
            switch header.type {
            case .create:
                results.append(.created(path: try buffer.readJuteString("CreateResponse", "path") ?? "", stat: nil))
            case .create2, .createContainer, .createTTL:
                let response = try Create2Response.decode(from: &buffer)
                results.append(.created(path: response.path, stat: response.stat))
            case .delete:
                results.append(.deleted)
            case .setData:
                results.append(.dataSet(try Stat.decode(from: &buffer)))
            case .check:
                results.append(.checked)
            case .error:
                let code = try buffer.readJuteInt("ErrorResponse", "err")
                results.append(.failed(ZooKeeperError.Code(rawValue: code)))
            default:
                throw JuteDecodingError(record: "MultiResponse", field: "type", reason: "unexpected operation type \(header.type.rawValue)")
            }
        }
        return MultiResponse(results: results)
    }
}

/// One read of a `multiRead` request (ZooKeeper 3.6+). The server answers each on its own: one
/// failing (a missing node, no READ permission) does not stop the others.
public enum ReadOperation: Sendable, Hashable {
    /// The node's data and stat (`GetDataRequest`, never with a watch: the server would register
    /// it on the connection, where this client could not route its events).
    case getData(path: String)
    /// The names of the node's children (`GetChildrenRequest`; multiRead returns no stat with them).
    case getChildren(path: String)

    public var path: String {
        switch self {
        case .getData(let path), .getChildren(let path): path
        }
    }

    package var opCode: OpCode {
        switch self {
        case .getData: .getData
        case .getChildren: .getChildren
        }
    }

    func encodeBody(into buffer: inout ByteBuffer) {
        PathWatchRequest(opCode, path: path, watch: false).encode(into: &buffer)
    }
}

/// The result of one read of a `multiRead` request.
public enum ReadResult: Sendable, Hashable {
    case data([UInt8], Stat)
    case children([String])
    /// This read failed (e.g. `noNode`, `noAuth`); the other reads of the request are unaffected.
    case failed(ZooKeeperError.Code)

    public var error: ZooKeeperError.Code? {
        if case .failed(let code) = self { return code }
        return nil
    }
}

/// `MultiOperationRecord` with read operations only, sent as `multiRead` (opcode 22). The same
/// framing as a multi transaction: a `MultiHeader` before each operation, an end header after.
package struct MultiReadRequest: ZooKeeperRequestRecord, Hashable {
    package var operations: [ReadOperation]

    package init(operations: [ReadOperation]) { self.operations = operations }

    package var opCode: OpCode { .multiRead }

    package func encode(into buffer: inout ByteBuffer) {
        for operation in operations {
            MultiHeader(type: operation.opCode, done: false, error: -1).encode(into: &buffer)
            operation.encodeBody(into: &buffer)
        }
        MultiHeader.end.encode(into: &buffer)
    }
}

/// `MultiResponse` of a `multiRead`: per read, a header whose type is the read's opcode (then a
/// `GetDataResponse` or `GetChildrenResponse`) or -1 with the error (then an `ErrorResponse`).
package struct MultiReadResponse: ZooKeeperResponseRecord, Hashable {
    package var results: [ReadResult]

    package init(results: [ReadResult]) { self.results = results }

    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> MultiReadResponse {
        var results: [ReadResult] = []
        while true {
            let header = try MultiHeader.decode(from: &buffer)
            if header.done { break }
            switch header.type {
            case .getData:
                let response = try GetDataResponse.decode(from: &buffer)
                results.append(.data(response.data, response.stat))
            case .getChildren:
                results.append(.children(try GetChildrenResponse.decode(from: &buffer).children))
            case .error:
                let code = try buffer.readJuteInt("ErrorResponse", "err")
                results.append(.failed(ZooKeeperError.Code(rawValue: code)))
            default:
                throw JuteDecodingError(record: "MultiReadResponse", field: "type", reason: "unexpected read type \(header.type.rawValue)")
            }
        }
        return MultiReadResponse(results: results)
    }
}

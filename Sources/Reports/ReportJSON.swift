public import Foundation

extension RunReport {
    /// The report as JSON: sorted keys, so the same report always gives the same bytes, and
    /// ``startedAt`` as an ISO 8601 date with milliseconds.
    public func jsonData(pretty: Bool = true) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Self.iso8601))
        }
        return try encoder.encode(self)
    }

    /// Reads a report written by ``jsonData(pretty:)``.
    public init(jsonData data: Data) throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = try? Self.iso8601.parse(text) { return date }
            if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "startedAt \"\(text)\" is not an ISO 8601 date such as 2024-05-01T12:00:00.000Z")
        }
        let decoded = try decoder.decode(RunReport.self, from: data)
        guard decoded.format == Self.currentFormat else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: [],
                    debugDescription:
                        "report format \(decoded.format) is not understood by this mitosis (it reads format \(Self.currentFormat)); render the report with the mitosis that wrote it"
                ))
        }
        self = decoded
    }

    static let iso8601 = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

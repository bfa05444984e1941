import Foundation

extension Plan {
    /// The plan as JSON: sorted keys, so the same plan always gives the same bytes.
    public func jsonData(pretty: Bool = true) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads a plan written by ``jsonData(pretty:)``.
    public init(jsonData data: Data) throws {
        let decoded = try JSONDecoder().decode(Plan.self, from: data)
        guard decoded.format == 1 else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: [], debugDescription: "plan format \(decoded.format) is not understood by this mitosis (it reads format 1); make the plan again with this version"))
        }
        self = decoded
    }
}

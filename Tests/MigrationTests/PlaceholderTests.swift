import Testing
@testable import Migration
@Test func placeholder() {}

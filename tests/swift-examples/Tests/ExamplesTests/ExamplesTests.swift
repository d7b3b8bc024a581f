// Every example body of openapi/queueit.yaml and asyncapi/queueit.yaml decodes with the generated
// models: with the package's own CodableHelper and with a plain JSONDecoder using `.iso8601`
// (what the iOS app uses). Every date-time in them decodes with that plain decoder. Values from
// a newer server (an enum value or event type the spec does not know yet) still decode, and
// keep that value when they re-encode.

import Foundation
import QueueITAPI
import XCTest

private struct Fixture {
    let id: String
    let type: String
    let array: Bool
    let data: Data
    let dates: [String]
}

private struct Fixtures {
    let examples: [Fixture]
    let unknownValues: [Fixture]

    static func load() throws -> Fixtures {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .appendingPathComponent("Generated/examples.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        func parse(_ key: String) throws -> [Fixture] {
            try (root[key] as! [[String: Any]]).map { item in
                Fixture(
                    id: item["id"] as! String,
                    type: item["type"] as! String,
                    array: item["array"] as! Bool,
                    data: try JSONSerialization.data(
                        withJSONObject: item["json"]!, options: [.fragmentsAllowed, .sortedKeys]),
                    dates: item["dates"] as? [String] ?? []
                )
            }
        }
        return Fixtures(examples: try parse("examples"), unknownValues: try parse("unknown_values"))
    }
}

private struct DateBox: Codable {
    let date: Date
}

final class ExamplesTests: XCTestCase {
    private func plainISO8601Decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    func testThereAreExamples() throws {
        let fixtures = try Fixtures.load()
        XCTAssertFalse(fixtures.examples.isEmpty, "no examples extracted from the specs")
    }

    func testExamplesDecodeWithGeneratedCodableHelper() throws {
        let decoder = CodableHelper().jsonDecoder
        for example in try Fixtures.load().examples {
            XCTAssertNoThrow(
                try decodeExample(
                    type: example.type, array: example.array, data: example.data, decoder: decoder),
                "\(example.id) does not decode as \(example.type)")
        }
    }

    func testExamplesDecodeWithPlainISO8601Decoder() throws {
        let decoder = plainISO8601Decoder()
        for example in try Fixtures.load().examples {
            do {
                _ = try decodeExample(
                    type: example.type, array: example.array, data: example.data, decoder: decoder)
            } catch {
                XCTFail("\(example.id) does not decode as \(example.type) with .iso8601: \(error)")
            }
        }
    }

    func testEveryDateDecodesWithPlainISO8601Decoder() throws {
        let decoder = plainISO8601Decoder()
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        var count = 0
        for example in try Fixtures.load().examples {
            for text in example.dates {
                count += 1
                let json = try JSONSerialization.data(withJSONObject: ["date": text])
                do {
                    let box = try decoder.decode(DateBox.self, from: json)
                    // And the stock encoder writes the very same string back.
                    let back = try JSONSerialization.jsonObject(with: encoder.encode(box))
                    XCTAssertEqual((back as? [String: String])?["date"], text, example.id)
                } catch {
                    XCTFail("\(example.id): \(text) does not decode with .iso8601: \(error)")
                }
            }
        }
        XCTAssertGreaterThan(count, 0, "no date-time found in any example")
    }

    func testUnknownEnumAndEventValuesDecode() throws {
        let decoder = CodableHelper().jsonDecoder
        let encoder = CodableHelper().jsonEncoder
        for example in try Fixtures.load().unknownValues {
            let value: any Encodable
            do {
                value = try decodeExample(
                    type: example.type, array: example.array, data: example.data, decoder: decoder)
            } catch {
                XCTFail("\(example.id): an old app would fail on this value: \(error)")
                continue
            }
            // Lossless: the value the app did not know is still there when it re-encodes.
            let again = String(decoding: try encoder.encode(value), as: UTF8.self)
            XCTAssertTrue(
                again.contains("x_value_from_the_future"), "\(example.id): lost in \(again)")
        }
    }

    /// Re-encodes every example with the generated encoder. tests/spec/test_swift_examples.py
    /// then checks the output against the spec (dates as YYYY-MM-DDTHH:MM:SSZ included).
    func testExamplesReencode() throws {
        let decoder = CodableHelper().jsonDecoder
        let encoder = CodableHelper().jsonEncoder
        var out: [String: Any] = [:]
        for example in try Fixtures.load().examples {
            let value = try decodeExample(
                type: example.type, array: example.array, data: example.data, decoder: decoder)
            let data = try encoder.encode(value)
            out[example.id] = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        }
        if let path = ProcessInfo.processInfo.environment["QUEUEIT_SWIFT_REENCODED"] {
            let data = try JSONSerialization.data(
                withJSONObject: out, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: path))
        }
    }
}

// swift-tools-version:6.0
// Decodes every example body of the specs with the generated QueueITAPI models.
// The fixtures in Tests/ExamplesTests/Generated come from `make generate`
// (tools/swift_examples.py); tests/spec/test_swift_examples.py runs `swift test` here.

import PackageDescription

let package = Package(
    name: "QueueITExamples",
    dependencies: [
        .package(path: "../../generated/QueueITAPI"),
    ],
    targets: [
        .testTarget(
            name: "ExamplesTests",
            dependencies: [.product(name: "QueueITAPI", package: "QueueITAPI")],
            path: "Tests/ExamplesTests",
            exclude: ["Generated/examples.json"]
        ),
        // The hand-written Swift of the package (tools/swift-support, copied into generated/QueueITAPI).
        .testTarget(
            name: "SupportTests",
            dependencies: [.product(name: "QueueITAPI", package: "QueueITAPI")],
            path: "Tests/SupportTests"
        ),
        // The realtime types generated from asyncapi/queueit.yaml (tools/gen_swift_realtime.py).
        .testTarget(
            name: "RealtimeTests",
            dependencies: [.product(name: "QueueITAPI", package: "QueueITAPI")],
            path: "Tests/RealtimeTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version:6.0
// The generated Swift client (generated/QueueITAPI, by path) against the live server.
// contract_tests/test_contract_swift.py starts the server and runs `swift test` here with
// QUEUEIT_LIVE_BASE_URL, QUEUEIT_LIVE_HOST_TOKEN, QUEUEIT_LIVE_GUEST_TOKEN and
// QUEUEIT_LIVE_CAPTURED (the bodies captured from the server during the Python runs).

import PackageDescription

let package = Package(
    name: "QueueITLiveContract",
    dependencies: [
        .package(path: "../../../generated/QueueITAPI"),
    ],
    targets: [
        .testTarget(
            name: "LiveContractTests",
            dependencies: [.product(name: "QueueITAPI", package: "QueueITAPI")],
            path: "Tests/LiveContractTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)

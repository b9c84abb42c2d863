"""Generated CRI v1 (package runtime.v1) protobuf and gRPC modules.

api_pb2, api_pb2_grpc and api_pb2.pyi are produced by
`python -m cri_handler.generate`; do not edit them by hand.
"""

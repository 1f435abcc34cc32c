// Quote a loan with the tanxiao scoring service and decode its errors (Java, grpc-java).
//
//   java -cp ... io.tanxiao.examples.QuoteLoan ADDRESS USCC [REQUEST_ID]
//
// Plaintext unless TANXIAO_TLS_CA_FILE names the CA of the server certificate; TANXIAO_TOKEN, when
// set, is sent as "authorization: Bearer <token>". Prints one JSON object per line: the quote, then the
// error of a request with a malformed USCC, decoded from the google.rpc.Status details (one ErrorInfo;
// a BadRequest naming the fields at fault). Build: pom.xml (Maven Central) or build.sh (Debian).
package io.tanxiao.examples;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
// Wildcard imports of the contract compile: no generated class is named like a java.lang class
// (tanxiao.registry.v1.Record was renamed EnergyRecord for this).
import io.tanxiao.registry.v1.*;
import io.tanxiao.scoring.v1.*;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

public final class QuoteLoan {
  private static final String LENDER = "lenders/huzhou-bank";

  private QuoteLoan() {}

  static QuoteLoanTermsRequest quoteRequest(String uscc, String requestId) {
    return QuoteLoanTermsRequest.newBuilder()
        .setRequestId(requestId)
        .setLender(LENDER)
        .setEnterprise("enterprises/" + uscc)
        .setProduct(Product.GENERAL)
        .setRequestedAmountFen(500_000_000L) // 5,000,000 yuan
        .setTenorMonths(36)
        .build();
  }

  /** The status code, ErrorInfo (reason, domain, metadata) and BadRequest field violations. */
  static String decodeError(StatusRuntimeException error) throws InvalidProtocolBufferException {
    StringBuilder json = new StringBuilder("{\"code\":").append(quote(error.getStatus().getCode().name()));
    json.append(",\"message\":").append(quote(error.getStatus().getDescription()));
    com.google.rpc.Status status = StatusProto.fromThrowable(error); // grpc-status-details-bin
    if (status != null) {
      for (Any detail : status.getDetailsList()) {
        if (detail.is(ErrorInfo.class)) {
          ErrorInfo info = detail.unpack(ErrorInfo.class);
          json.append(",\"reason\":").append(quote(info.getReason()));
          json.append(",\"domain\":").append(quote(info.getDomain()));
          List<String> pairs = new ArrayList<>();
          for (Map.Entry<String, String> entry : info.getMetadataMap().entrySet()) {
            pairs.add(quote(entry.getKey()) + ":" + quote(entry.getValue()));
          }
          json.append(",\"metadata\":{").append(String.join(",", pairs)).append("}");
        } else if (detail.is(BadRequest.class)) {
          List<String> violations = new ArrayList<>();
          for (BadRequest.FieldViolation v : detail.unpack(BadRequest.class).getFieldViolationsList()) {
            violations.add("{\"field\":" + quote(v.getField()) + ",\"description\":" + quote(v.getDescription()) + "}");
          }
          json.append(",\"field_violations\":[").append(String.join(",", violations)).append("]");
        }
      }
    }
    return json.append("}").toString();
  }

  public static void main(String[] args) throws Exception {
    String address = args[0];
    String uscc = args[1];
    String requestId = args.length > 2 ? args[2] : UUID.randomUUID().toString();
    ManagedChannel channel = Grpc.newChannelBuilder(address, credentials()).build();
    try {
      LoanScoringGrpc.LoanScoringBlockingStub stub = LoanScoringGrpc.newBlockingStub(channel);
      String token = System.getenv("TANXIAO_TOKEN");
      if (token != null && !token.isEmpty()) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
      }
      Decision decision =
          stub.withDeadlineAfter(30, TimeUnit.SECONDS).quoteLoanTerms(quoteRequest(uscc, requestId));
      System.out.println("{\"decision\":" + quote(decision.getName())
          + ",\"eligible\":" + decision.getEligible()
          + ",\"product\":" + quote(decision.getProduct().name())
          + ",\"grade\":" + decision.getGrade().getGrade()
          + ",\"final_rate_bp\":" + decision.getFinalRateBp()
          + ",\"approved_limit_fen\":" + decision.getApprovedLimitFen() + "}");
      try { // INVALID_ARGUMENT naming `enterprise`
        stub.withDeadlineAfter(30, TimeUnit.SECONDS).quoteLoanTerms(quoteRequest("NOT-A-USCC", requestId + "-bad"));
      } catch (StatusRuntimeException error) {
        System.out.println("{\"error\":" + decodeError(error) + "}");
      }
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static ChannelCredentials credentials() throws IOException {
    String ca = System.getenv("TANXIAO_TLS_CA_FILE");
    if (ca == null || ca.isEmpty()) {
      return InsecureChannelCredentials.create();
    }
    return TlsChannelCredentials.newBuilder().trustManager(new File(ca)).build();
  }

  private static String quote(String text) {
    if (text == null) {
      return "null";
    }
    StringBuilder out = new StringBuilder("\"");
    for (char c : text.toCharArray()) {
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        default:
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
      }
    }
    return out.append('"').toString();
  }
}

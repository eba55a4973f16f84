import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { extractFacts, foldText, parseErrorBody } from "../../src/classify/errorBody.js";
import { readHeaders } from "../../src/util/headers.js";
import { fuzzRuns } from "../helpers/arbitraries.js";

const OID = "11111111-2222-3333-4444-555555555555";
const APPID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const SUB = "0d0d0d0d-0000-1111-2222-333333333333";

describe("parseErrorBody", () => {
  it.each([
    [
      "Azure JSON with innererror: innermost code first",
      '{"error":{"code":"Forbidden","message":"m","innererror":{"code":"ForbiddenByRbac"}}}',
      ["ForbiddenByRbac", "Forbidden"],
      ["m"],
      "json",
    ],
    [
      "Graph innerError without code",
      '{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"x"}}}',
      ["Authorization_RequestDenied"],
      ["Insufficient privileges to complete the operation."],
      "json",
    ],
    ["Cosmos flat JSON", '{"code":"Forbidden","message":"Request blocked by Auth"}', ["Forbidden"], ["Request blocked by Auth"], "json"],
    [
      "OData error with { lang, value }",
      '{"odata.error":{"code":"AuthorizationPermissionMismatch","message":{"lang":"en-US","value":"Not allowed."}}}',
      ["AuthorizationPermissionMismatch"],
      ["Not allowed."],
      "json",
    ],
    [
      "ACR errors[] with detail",
      '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Name":"app","Action":"pull"}]}]}',
      ["UNAUTHORIZED"],
      ["authentication required", '[{"Type":"repository","Name":"app","Action":"pull"}]'],
      "json",
    ],
    ["OAuth error string", '{"error":"invalid_token","error_description":"The audience is invalid"}', ["invalid_token"], ["The audience is invalid"], "json"],
    ["problem+json", '{"type":"https://azconfig.io/errors/forbidden","title":"Forbidden","detail":"No.","status":403}', [], ["No.", "Forbidden"], "json"],
    ["numeric codes go last", '{"error":{"code":"401","message":"Unauthorized."}}', ["401"], ["Unauthorized."], "json"],
    [
      "Storage XML with BOM and AuthenticationErrorDetail",
      '\uFEFF<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidAuthenticationInfo</Code><Message>Server failed.\nRequestId:1</Message><AuthenticationErrorDetail>Audience validation failed. Audience did not match.</AuthenticationErrorDetail></Error>',
      ["InvalidAuthenticationInfo"],
      ["Server failed.\nRequestId:1", "Audience validation failed. Audience did not match."],
      "xml",
    ],
    [
      "Service Bus XML with entities",
      "<Error><Code>401</Code><Detail>Unauthorized access for &apos;Send&apos; operation &amp; more &#x27;x&#x27;</Detail></Error>",
      ["401"],
      ["Unauthorized access for 'Send' operation & more 'x'"],
      "xml",
    ],
    ["plain text", "Login failed", [], ["Login failed"], "text"],
    [
      "truncated JSON: picked by pattern",
      '{"error":{"code":"AuthorizationFailed","message":"The client \\u0027x\\u0027 with object id',
      ["AuthorizationFailed"],
      [],
      "json",
    ],
    ["empty", "", [], [], "none"],
  ])("%s", (_name, body, codes, messages, format) => {
    const info = parseErrorBody(body);
    expect(info.codes).toEqual(codes);
    for (const message of messages) expect(info.messages).toContain(message);
    expect(info.format).toBe(format);
  });

  it("reads x-ms-error-code and x-ms-substatus from headers, any casing", () => {
    const info = parseErrorBody(undefined, readHeaders({ "X-Ms-Error-Code": "AuthorizationPermissionMismatch", "x-ms-substatus": " 5301 " }));
    expect(info.codes).toEqual(["AuthorizationPermissionMismatch"]);
    expect(info.substatus).toBe("5301");
  });

  it("ignores a non-numeric substatus and never throws on odd bodies", () => {
    expect(parseErrorBody("", readHeaders({ "x-ms-substatus": "abc" })).substatus).toBeUndefined();
    for (const body of [
      "{",
      "[1,2",
      "<Error><Code>",
      "null",
      "[]",
      '{"error":null}',
      '{"error":{"innererror":{"innererror":{"innererror":{}}}}}',
      42,
      {},
      null,
    ]) {
      expect(() => parseErrorBody(body as never)).not.toThrow();
    }
  });

  it("is bounded on a multi-megabyte body", () => {
    const body = `{"error":{"code":"Forbidden","message":"${"x".repeat(5_000_000)}"}}`;
    const started = performance.now();
    const info = parseErrorBody(body);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(info.codes).toContain("Forbidden");
  });
});

describe("XML code and message extraction (issue 15: linear)", () => {
  // What readXml did with patterns (a lazy match from every opening tag; attributes up to the next "<"): the oracle.
  const MAX = 4096;
  const tag = (name: string) => new RegExp(`<${name}(?:\\s[^<>]*)?>([\\s\\S]{0,${MAX}}?)</${name}>`, "i");
  const decode = (text: string) => text.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, "$1").replace(/&amp;/g, "&");
  const oracle = (body: string) => {
    const code = tag("Code").exec(body)?.[1];
    const messages = ["Message", "Detail", "AuthenticationErrorDetail", "Reason", "ExceptionMessage"]
      .map((name) => tag(name).exec(body)?.[1])
      .filter((m): m is string => m !== undefined)
      .map((m) => decode(m).trim())
      .filter((m) => m.length > 0);
    return { code: code === undefined ? undefined : decode(code).trim().slice(0, 128) || undefined, messages: [...new Set(messages)] };
  };
  const piece = fc.oneof(
    fc.constantFrom(
      "<Code>",
      "</Code>",
      "<code>",
      '<Code lang="en">',
      "<Code\n>",
      "<Code/>",
      "<CodeX>",
      "<Message>",
      "</Message>",
      "</message>",
      "<Detail a=1>",
      "</Detail>",
      "<Reason>",
      "</Reason>",
      "<![CDATA[",
      "]]>",
      "&amp;",
      "<",
      ">",
      "<<Code a",
      " ",
      "x",
    ),
    fc.string({ maxLength: 8 }),
    fc.constant("y".repeat(MAX - 2)),
  );
  it("finds what the patterns found, on generated tag soup", () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 24 }), (parts) => {
        const body = `<Error>${parts.join("")}`;
        const info = parseErrorBody(body);
        const expected = oracle(body);
        expect(info.codes.find((c) => !/^\d+$/.test(c)) ?? info.codes[0]).toBe(expected.code);
        expect(info.messages).toEqual(expected.messages);
      }),
      { numRuns: fuzzRuns(0.25, 100) },
    );
  });

  it("an element whose content is too long is skipped for a later one; an unclosed CDATA section is kept as is", () => {
    const info = parseErrorBody(`<Error><Code>${"a".repeat(5000)}</Code><Code>Second</Code><Message>a <![CDATA[b]]> <![CDATA[c</Message></Error>`);
    expect(info.codes).toEqual(["Second"]);
    expect(info.messages).toEqual(["a b <![CDATA[c"]);
  });
});

describe("extractFacts", () => {
  it("Key Vault caller, action, resource, no assignment", () => {
    const facts = extractFacts(
      `Caller: appid=${APPID};oid=${OID};iss=https://sts.windows.net/t/;xms_mirid=/subscriptions/${SUB}/x Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action' Resource: '/subscriptions/${SUB}/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv/secrets/s' Assignment: (not found)`,
    );
    expect(facts).toMatchObject({ callerObjectId: OID, callerAppId: APPID, callerIssuer: "https://sts.windows.net/t/", noAssignment: true });
    expect(facts.actions).toEqual(["Microsoft.KeyVault/vaults/secrets/getSecret/action"]);
    expect(facts.resources[0]).toBe(`/subscriptions/${SUB}/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv/secrets/s`);
  });
  it("ARM object id, action and scope", () => {
    const facts = extractFacts(
      `The client '${APPID}' with object id '${OID}' does not have authorization to perform action 'Microsoft.Web/sites/read' over scope '/subscriptions/${SUB}/resourceGroups/rg' or the scope is invalid.`,
    );
    expect(facts).toMatchObject({
      callerObjectId: OID,
      callerAppId: APPID,
      actions: ["Microsoft.Web/sites/read"],
      resources: [`/subscriptions/${SUB}/resourceGroups/rg`],
    });
  });
  it("Cosmos principal [oid] and action [x]", () => {
    const facts = extractFacts(
      `principal [${OID.toUpperCase()}] does not have required RBAC permissions to perform action [Microsoft.DocumentDB/databaseAccounts/readMetadata] on resource [/].`,
    );
    expect(facts.callerObjectId).toBe(OID);
    expect(facts.actions).toEqual(["Microsoft.DocumentDB/databaseAccounts/readMetadata"]);
  });
  it("OpenAI principal `oid` and data action", () => {
    const facts = extractFacts(
      `The principal \`${OID}\` lacks the required data action \`Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action\` to perform`,
    );
    expect(facts.callerObjectId).toBe(OID);
    expect(facts.actions[0]).toContain("OpenAI/deployments");
  });
  it("Service Bus claims and entity", () => {
    const facts = extractFacts(
      "Unauthorized access. 'Manage,EntityRead' claim(s) are required to perform this operation. Resource: 'sb://ns.servicebus.windows.net/q'.",
    );
    expect(facts.actions).toEqual(["Manage,EntityRead"]);
    expect(facts.entityUrl).toBe("sb://ns.servicebus.windows.net/q");
  });
  it("the literal pre-filter never changes the facts: same result as every pattern run on every text, in any letter case", () => {
    // Fragments of every quoted form, in upper, lower and mixed case, with GUIDs, quotes and junk between them.
    const forms = [
      `oid=${OID}`,
      `object id '${OID}'`,
      `objectId:'${OID}'`,
      `principal [${OID}]`,
      `principal '${OID}'`,
      `principal id ${OID}`,
      `appid=${APPID}`,
      `the client '${APPID}'`,
      "iss=https://sts.windows.net/t/",
      `xms_mirid=/subscriptions/${SUB}/x`,
      "Resource: '/subscriptions/x'",
      "over scope '/a/b'",
      "on scope '/c'",
      "linked scope '/d'",
      `/subscriptions/${SUB}/resourceGroups/rg`,
      "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'",
      "perform action 'Microsoft.Web/sites/read'",
      "perform action [Microsoft.DocumentDB/x]",
      "data action `Microsoft.CognitiveServices/x`",
      "'Send' claim(s) are required",
      "unauthorized access for 'Listen' operation",
      "does not have secrets get permission",
      '"action":"pull"',
      "Assignment: (not found)",
      `must match the tenant 'https://sts.windows.net/${OID}/'`,
      `use the authority (URL) 'https://login.microsoftonline.com/${OID}'`,
      "sb://ns.servicebus.windows.net/q",
    ];
    const caseOf = (text: string, how: number) =>
      how === 0 ? text : how === 1 ? text.toUpperCase() : text.replace(/[a-z]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...forms), fc.integer({ min: 0, max: 2 }), fc.string({ maxLength: 8 })), { maxLength: 8 }), (parts) => {
        const text = parts.map(([form, how, junk]) => `${caseOf(form, how)}${junk}`).join(" ");
        expect(extractFacts(text)).toEqual(extractFacts(text, false));
      }),
      { numRuns: fuzzRuns(0.5, 200) },
    );
  });

  it("ARM tenant the subscription belongs to", () => {
    const facts = extractFacts(`It must match the tenant 'https://sts.windows.net/72F988BF-86F1-41AF-91AB-2D7CD011DB47/' associated with this subscription.`);
    expect(facts.resourceTenantId).toBe("72f988bf-86f1-41af-91ab-2d7cd011db47");
  });
});

describe("foldText", () => {
  it("folds CRLF, tabs, JSON escapes and control characters", () => {
    expect(foldText(["a\r\nb\tc", "d\\r\\ne", "\u0000f"])).toBe("a b c d e f");
  });
});

describe("readHeaders", () => {
  it("reads records, arrays, fetch Headers, Maps and iterables", () => {
    expect(readHeaders({ A: "1", b: ["2", "3"], c: 4, d: undefined }).get("b")).toBe("2, 3");
    expect(readHeaders(new Headers({ "WWW-Authenticate": "Bearer x=1" })).get("www-authenticate")).toBe("Bearer x=1");
    expect(readHeaders(new Map([["X-Ms-Error-Code", "E"]])).get("x-ms-error-code")).toBe("E");
    expect(
      readHeaders({
        *[Symbol.iterator]() {
          yield ["k", "v"];
        },
      }).get("k"),
    ).toBe("v");
  });
  it("survives throwing getters and Proxies", () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error("no");
        },
        get: () => {
          throw new Error("no");
        },
      },
    );
    expect(readHeaders(hostile).size).toBe(0);
    const getter = Object.defineProperty({ ok: "1" }, "bad", {
      enumerable: true,
      get: () => {
        throw new Error("x");
      },
    });
    expect(readHeaders(getter).get("ok")).toBe("1");
  });
});

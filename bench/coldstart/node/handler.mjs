// The Node.js floor's handler: at init it only builds a DynamoDB client, as any function that uses
// DynamoDB must; the handler itself does nothing.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";

const client = new DynamoDBClient({});

export const handler = async (_event, _context) => {
  void client;
  return { statusCode: 200, body: "{}" };
};

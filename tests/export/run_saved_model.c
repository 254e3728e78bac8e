/*
 * Runs a SavedModel through TensorFlow's C API, with no Python: the
 * session-based loader (TF_LoadSessionFromSavedModel, tag "serve") that TF
 * Serving uses.
 *
 *   run_saved_model EXPORT_DIR REQUESTS OUTPUTS [OP_LIBRARY.so ...]
 *   run_saved_model --list-ops OUTPUT [OP_LIBRARY.so ...]
 *
 * Op libraries (tensorflow-text's) are loaded first with TF_LoadLibrary.
 * --list-ops writes the serialized OpList of every registered op.
 *
 * REQUESTS is whitespace-separated text, any number of runs:
 *   run NUM_INPUTS NUM_OUTPUTS
 *   in OP_NAME INDEX int32 RANK DIM... VALUE...
 *   in OP_NAME INDEX string RANK DIM... HEX...   (each string hex-encoded,
 *                                                 "-" for an empty string)
 *   out OP_NAME INDEX
 * OUTPUTS gets, per run, either
 *   run K ok NUM_OUTPUTS
 *   out I DTYPE RANK DIM... VALUE...             (DTYPE float|int32|int64)
 * or
 *   run K error MESSAGE-ON-ONE-LINE
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/c/c_api.h"

#define MAX_TENSORS 16
#define MAX_RANK 8
#define MAX_TOKEN 512

static void die(const char *what, TF_Status *status) {
  fprintf(stderr, "%s: %s\n", what, status ? TF_Message(status) : "");
  exit(2);
}

static void read_token(FILE *f, char *token) {
  if (fscanf(f, "%511s", token) != 1) {
    fprintf(stderr, "truncated request file\n");
    exit(2);
  }
}

static long read_long(FILE *f) {
  char token[MAX_TOKEN];
  read_token(f, token);
  return strtol(token, NULL, 10);
}

static void load_libraries(int count, char **paths, TF_Status *status) {
  for (int i = 0; i < count; ++i) {
    TF_Library *library = TF_LoadLibrary(paths[i], status);
    if (TF_GetCode(status) != TF_OK) die(paths[i], status);
    TF_DeleteLibraryHandle(library);
  }
}

/* Reads "KEYWORD OP_NAME INDEX" and returns that graph tensor. */
static TF_Output read_tensor_ref(FILE *f, TF_Graph *graph, const char *keyword) {
  char token[MAX_TOKEN], name[MAX_TOKEN];
  read_token(f, token);
  if (strcmp(token, keyword) != 0) {
    fprintf(stderr, "expected '%s', read '%s'\n", keyword, token);
    exit(2);
  }
  read_token(f, name);
  int index = (int)read_long(f);
  TF_Operation *op = TF_GraphOperationByName(graph, name);
  if (op == NULL) {
    fprintf(stderr, "no operation named %s in the graph\n", name);
    exit(2);
  }
  TF_Output output = {op, index};
  return output;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Reads one hex-encoded string of any length into a malloc'd buffer. */
static char *read_hex_string(FILE *f, size_t *length) {
  size_t capacity = 64, size = 0;
  char *bytes = malloc(capacity);
  int c;
  do {
    c = fgetc(f);
  } while (c == ' ' || c == '\n' || c == '\t' || c == '\r');
  if (c == '-') {
    *length = 0;
    return bytes;
  }
  while (c != EOF && hex_value((char)c) >= 0) {
    int high = hex_value((char)c);
    int low = hex_value((char)fgetc(f));
    if (low < 0) {
      fprintf(stderr, "bad hex string\n");
      exit(2);
    }
    if (size == capacity) bytes = realloc(bytes, capacity *= 2);
    bytes[size++] = (char)(high * 16 + low);
    c = fgetc(f);
  }
  *length = size;
  return bytes;
}

static TF_Tensor *read_tensor(FILE *f) {
  char dtype[MAX_TOKEN];
  read_token(f, dtype);
  int rank = (int)read_long(f);
  if (rank < 0 || rank > MAX_RANK) {
    fprintf(stderr, "bad rank %d\n", rank);
    exit(2);
  }
  int64_t dims[MAX_RANK];
  int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    dims[i] = read_long(f);
    count *= dims[i];
  }
  if (strcmp(dtype, "int32") == 0) {
    TF_Tensor *tensor = TF_AllocateTensor(TF_INT32, dims, rank,
                                          (size_t)count * sizeof(int32_t));
    int32_t *data = (int32_t *)TF_TensorData(tensor);
    for (int64_t i = 0; i < count; ++i) data[i] = (int32_t)read_long(f);
    return tensor;
  }
  if (strcmp(dtype, "string") == 0) {
    TF_Tensor *tensor = TF_AllocateTensor(TF_STRING, dims, rank,
                                          (size_t)count * sizeof(TF_TString));
    TF_TString *data = (TF_TString *)TF_TensorData(tensor);
    for (int64_t i = 0; i < count; ++i) {
      size_t length;
      char *bytes = read_hex_string(f, &length);
      TF_StringInit(&data[i]);
      TF_StringCopy(&data[i], bytes, length);
      free(bytes);
    }
    return tensor;
  }
  fprintf(stderr, "unsupported input dtype %s\n", dtype);
  exit(2);
}

static void write_tensor(FILE *out, int index, const TF_Tensor *tensor) {
  TF_DataType type = TF_TensorType(tensor);
  const char *name = type == TF_FLOAT   ? "float"
                     : type == TF_INT32 ? "int32"
                     : type == TF_INT64 ? "int64"
                                        : NULL;
  if (name == NULL) {
    fprintf(stderr, "unsupported output dtype %d\n", (int)type);
    exit(2);
  }
  int rank = TF_NumDims(tensor);
  fprintf(out, "out %d %s %d", index, name, rank);
  for (int i = 0; i < rank; ++i) fprintf(out, " %lld", (long long)TF_Dim(tensor, i));
  int64_t count = TF_TensorElementCount(tensor);
  const void *data = TF_TensorData(tensor);
  for (int64_t i = 0; i < count; ++i) {
    if (type == TF_FLOAT) fprintf(out, " %.9g", (double)((const float *)data)[i]);
    if (type == TF_INT32) fprintf(out, " %d", ((const int32_t *)data)[i]);
    if (type == TF_INT64) fprintf(out, " %lld", (long long)((const int64_t *)data)[i]);
  }
  fprintf(out, "\n");
}

static void list_ops(const char *path) {
  TF_Buffer *ops = TF_GetAllOpList();
  FILE *out = fopen(path, "wb");
  if (out == NULL) die(path, NULL);
  fwrite(ops->data, 1, ops->length, out);
  fclose(out);
  TF_DeleteBuffer(ops);
}

int main(int argc, char **argv) {
  TF_Status *status = TF_NewStatus();
  if (argc >= 3 && strcmp(argv[1], "--list-ops") == 0) {
    load_libraries(argc - 3, argv + 3, status);
    list_ops(argv[2]);
    return 0;
  }
  if (argc < 4) {
    fprintf(stderr, "usage: %s EXPORT_DIR REQUESTS OUTPUTS [LIB.so ...]\n", argv[0]);
    return 2;
  }
  load_libraries(argc - 4, argv + 4, status);

  TF_Graph *graph = TF_NewGraph();
  TF_SessionOptions *options = TF_NewSessionOptions();
  const char *tags[] = {"serve"};
  TF_Session *session = TF_LoadSessionFromSavedModel(
      options, NULL, argv[1], tags, 1, graph, NULL, status);
  if (TF_GetCode(status) != TF_OK) die("TF_LoadSessionFromSavedModel", status);

  FILE *requests = fopen(argv[2], "r");
  FILE *out = fopen(argv[3], "w");
  if (requests == NULL || out == NULL) die("cannot open the request or output file", NULL);

  char token[MAX_TOKEN];
  int run = 0;
  while (fscanf(requests, "%511s", token) == 1) {
    if (strcmp(token, "run") != 0) {
      fprintf(stderr, "expected 'run', read '%s'\n", token);
      return 2;
    }
    int num_inputs = (int)read_long(requests);
    int num_outputs = (int)read_long(requests);
    if (num_inputs > MAX_TENSORS || num_outputs > MAX_TENSORS) {
      fprintf(stderr, "too many tensors\n");
      return 2;
    }
    TF_Output inputs[MAX_TENSORS], outputs[MAX_TENSORS];
    TF_Tensor *input_values[MAX_TENSORS], *output_values[MAX_TENSORS];
    for (int i = 0; i < num_inputs; ++i) {
      inputs[i] = read_tensor_ref(requests, graph, "in");
      input_values[i] = read_tensor(requests);
    }
    for (int i = 0; i < num_outputs; ++i) {
      outputs[i] = read_tensor_ref(requests, graph, "out");
      output_values[i] = NULL;
    }
    TF_SessionRun(session, NULL, inputs, input_values, num_inputs, outputs,
                  output_values, num_outputs, NULL, 0, NULL, status);
    if (TF_GetCode(status) == TF_OK) {
      fprintf(out, "run %d ok %d\n", run, num_outputs);
      for (int i = 0; i < num_outputs; ++i) {
        write_tensor(out, i, output_values[i]);
        TF_DeleteTensor(output_values[i]);
      }
    } else {
      /* One line: newlines in the message become spaces. */
      char *message = strdup(TF_Message(status));
      for (char *c = message; *c; ++c)
        if (*c == '\n' || *c == '\r') *c = ' ';
      fprintf(out, "run %d error %s\n", run, message);
      free(message);
    }
    for (int i = 0; i < num_inputs; ++i) TF_DeleteTensor(input_values[i]);
    ++run;
  }
  fclose(requests);
  fclose(out);
  TF_CloseSession(session, status);
  TF_DeleteSession(session, status);
  TF_DeleteSessionOptions(options);
  TF_DeleteGraph(graph);
  TF_DeleteStatus(status);
  return 0;
}

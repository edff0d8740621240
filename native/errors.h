// Errors thrown into JavaScript, shaped like Node's own system errors, and argument checks
// that name the offending argument. Every binding file uses these; none throws by hand.
#pragma once

#include <napi.h>

namespace fdr {

// Throws Error{code:'ECONNREFUSED', errno, syscall} for errno `err` from `syscall`.
void ThrowErrno(Napi::Env env, int err, const char* syscall);
// Throws a TypeError / RangeError whose message names the argument, with Node's code
// (ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE), as lib/error.ts's checks do.
void ThrowType(Napi::Env env, const char* arg, const char* expected);
void ThrowRange(Napi::Env env, const char* arg, const char* why);
// Throws an Error (a RangeError when `range`) with `msg` and `code` ("ERR_UNKNOWN_BACKEND").
void ThrowCoded(Napi::Env env, bool range, const std::string& msg, const char* code);
// errno name ("ECONNREFUSED") or "E<number>" when unknown.
const char* ErrnoName(int err);
// Exports an object of errno names → numbers.
Napi::Object ErrnoTable(Napi::Env env);

// Argument readers: on a bad value they throw (naming `name`) and return false.
bool ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name, int* out);
bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo, int64_t hi, int64_t* out);
bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out);
// A Uint8Array/Buffer with an in-bounds [offset, offset+length) window.
bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data, size_t* size);
// A Uint8Array at i, then integer offset (i+1) and length (i+2) that fit inside it, length >=
// minLength; `*data` points at the window. Errors name "offset" / "length".
bool ArgWindow(const Napi::CallbackInfo& info, size_t i, const char* name, size_t minLength,
               uint8_t** data, size_t* length);
// An Int32Array (its elements and count).
bool ArgInt32Array(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t** data,
                   size_t* count);
// As ThrowErrno, with a sentence of detail appended to the message.
void ThrowErrnoDetail(Napi::Env env, int err, const char* syscall, const std::string& detail);

}  // namespace fdr

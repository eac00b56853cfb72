// The case model's own examples (case-model.md §6), verbatim: test data shared by the tests.
#pragma once

namespace casehub::test {

// case-model.md §6.1, verbatim.
constexpr const char* example_61 = R"json({
  "schema": "casehub.record/1",
  "source": {"system": "dcm", "record_id": "260309000412",
             "version": "2026-03-09T08:52:40+08:00", "received_at": "2026-03-09T08:55:04+08:00"},
  "kind": "event", "appeal_type": null, "channel": "supervisor",
  "category": {"code": "city_appearance.exposed_garbage",
               "native": {"scheme": "dcm.event", "code": "0102", "name": "暴露垃圾"}},
  "title": null,
  "description": "贡院街江南贡院东侧绿化带旁有暴露垃圾约2立方米，含装修垃圾袋若干。",
  "status": "dispatched", "status_native": "03 派遣", "priority": "general",
  "times": {"reported_at": "2026-03-09T08:41:26+08:00", "registered_at": "2026-03-09T08:47:02+08:00",
            "dispatched_at": "2026-03-09T08:52:40+08:00", "due_at": "2026-03-09T14:22:40+08:00",
            "resolved_at": null, "closed_at": null, "updated_at": "2026-03-09T08:52:40+08:00"},
  "location": {"original": {"x": 385771.89, "y": 3544931.09, "crs": "EPSG:4549"},
               "address": "秦淮区贡院街江南贡院东侧", "grid_code": "32010400200508"},
  "reporter": {"kind": "supervisor", "name_masked": "陈**", "phone_masked": "138****8000",
               "id_masked": null, "worker_id": "JDY0217"},
  "parties": [],
  "responsible": [{"dept_code": "QHJD02", "name": "夫子庙街道办事处", "role": "lead"}],
  "tags": [], "satisfaction": null, "confidentiality": "public",
  "attachments": [{"uri": "http://10.32.104.21:8090/dcm/media/2026/03/09/260309000412_1.jpg", "mime": "image/jpeg"}],
  "links": [],
  "raw_sha256": "3e2a923f3fbb559e19a7186a1dc3db7e628cdd7a42546e18e6878d433383142b"
})json";

// case-model.md §6.2, verbatim.
constexpr const char* example_62 = R"json({
  "schema": "casehub.record/1",
  "source": {"system": "hotline12345", "record_id": "NJ20260309004512",
             "version": "2026-03-09T09:21:07.385+08:00", "received_at": "2026-03-09T09:21:40+08:00"},
  "kind": "appeal", "appeal_type": "complaint", "channel": "app",
  "category": {"code": "city_appearance.exposed_garbage",
               "native": {"scheme": "hotline12345.wtfl", "code": "城乡建设>市容环境>垃圾清运", "name": "垃圾清运"}},
  "title": "贡院街垃圾堆放无人清理",
  "description": "江南贡院东边路边堆了一大堆装修垃圾，两天了没人清理，游客很多，影响市容，请尽快处理。",
  "status": "dispatched", "status_native": "已派单", "priority": "general",
  "times": {"reported_at": "2026-03-09T09:05:31+08:00", "registered_at": null,
            "dispatched_at": "2026-03-09T09:21:07+08:00", "due_at": "2026-03-12T17:30:00+08:00",
            "resolved_at": null, "closed_at": null, "updated_at": "2026-03-09T09:21:07.385+08:00"},
  "location": {"original": {"x": 118.796290, "y": 32.020041, "crs": "GCJ02"},
               "address": "秦淮区贡院街江南贡院东侧", "grid_code": null},
  "reporter": {"kind": "citizen", "name_masked": "赵**", "phone_masked": "137****7000",
               "id_masked": null, "worker_id": null},
  "parties": [],
  "responsible": [{"dept_code": "320104JD002", "name": "秦淮区夫子庙街道办事处", "role": "lead"},
                  {"dept_code": null, "name": "秦淮区城市管理局", "role": "assist"}],
  "tags": [], "satisfaction": null, "confidentiality": "public",
  "attachments": [{"uri": "https://10.32.1.45:8443/files/2026/03/09/7f3a9c0e.jpg", "mime": "image/jpeg"}],
  "links": [],
  "raw_sha256": "98a26d12a4d3e5f40bc768af87a7ee5a2bcfad740c28e0e6ac9322c21b24c856"
})json";

}  // namespace casehub::test
